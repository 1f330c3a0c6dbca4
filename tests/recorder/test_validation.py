"""Bad input is the caller's mistake: a clear ValueError naming the field, nothing written."""

import os

import pytest

from recorder.validate import MAX_TOKENS

BAD_TENANTS = ["../x", "a/b", "a=b", "%2F", "", "x" * 64, "a\x00b", "Acme", "-acme", "ａcme", "acme\n",
               ".", "..", "a b", "a.b", None, 12]


@pytest.mark.parametrize("tenant", BAD_TENANTS)
def test_bad_tenant_ids_are_rejected_and_create_nothing(make_recorder, lake_dir, tenant):
    rec = make_recorder(lake_dir)
    with pytest.raises(ValueError, match="tenant"):
        rec.invocation(tenant=tenant, agent="a", provider="openai", model="gpt-4o")
    assert rec.flush()
    assert not os.path.exists(os.path.join(lake_dir, "invocations"))
    assert not os.path.exists(os.path.join(lake_dir, "rounds"))


@pytest.mark.parametrize("tenant", ["12", "012", "a", "acme-prod_2", "0" * 63])
def test_good_tenant_ids_are_accepted(make_recorder, tenant):
    rec = make_recorder()
    rec.invocation(tenant=tenant, agent="a", provider="openai", model="gpt-4o")


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"trigger": "cron"}, "trigger"),
    ({"agent": ""}, "agent"),
    ({"model": None}, "model"),
    ({"user_id": 5}, "user_id"),
])
def test_bad_invocation_fields(make_recorder, kwargs, field):
    rec = make_recorder()
    args = {"tenant": "acme", "agent": "a", "provider": "openai", "model": "gpt-4o"} | kwargs
    with pytest.raises(ValueError, match=field):
        rec.invocation(**args)


@pytest.mark.parametrize(("usage", "field"), [
    ({"input_tokens": -1}, "input_tokens"),
    ({"input_tokens": 1.5}, "input_tokens"),
    ({"output_tokens": True}, "output_tokens"),
    ({"output_tokens": "12"}, "output_tokens"),
    ({"input_tokens": MAX_TOKENS + 1}, "input_tokens"),
    ({"input_tokens": 2**40}, "input_tokens"),
    ({"input_tokens": 10, "cache_read_tokens": 11}, "cache_read_tokens"),
    ({"output_tokens": 1, "reasoning_tokens": 2}, "reasoning_tokens"),
    ({"inputs": 3}, "inputs"),
])
def test_bad_usage_is_rejected_and_never_stored(make_recorder, lake_dir, usage, field):
    rec = make_recorder(lake_dir)
    with rec.invocation(tenant="acme", agent="a", provider="openai", model="gpt-4o") as inv:
        with pytest.raises(ValueError, match=field), inv.round() as r:
            r.set_response("x", usage=usage)
    assert rec.flush()
    from tests.support.lakeread import rows

    (rnd,) = rows(rec.lake, "rounds")
    assert rnd["input_tokens"] == 0 and rnd["output_tokens"] == 0  # the bad counts never reached the lake
    assert rnd["status"] == "Failed" and rnd["error_type"] == "ValueError"


@pytest.mark.parametrize("cost", [float("nan"), "NaN", -1, float("inf"), "abc", "1e7"])
def test_bad_caller_cost(make_recorder, cost):
    rec = make_recorder()
    with rec.invocation(tenant="acme", agent="a", provider="openai", model="gpt-4o") as inv, inv.round() as r:
        with pytest.raises(ValueError, match="cost_usd"):
            r.set_response("x", cost_usd=cost)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"max_queue": 0}, "max_queue"), ({"spool_interval": -1}, "spool_interval"),
    ({"max_field_bytes": 10}, "max_field_bytes"), ({"redact": 3}, "redact"), ({"lake": "ftp://x"}, "lake"),
])
def test_bad_configuration_names_the_parameter(tmp_path, kwargs, field):
    from recorder import Recorder

    kwargs.setdefault("lake", str(tmp_path / "lake"))
    with pytest.raises(ValueError, match=field):
        Recorder(spool_dir=str(tmp_path / "spool"), **kwargs)
