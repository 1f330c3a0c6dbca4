"""Prices: every billed unit priced as genai-prices prices it, at the call's instant and tier.

The contract: a recorded cost equals genai-prices' own ``calc_price`` of the same
usage (rounded half-even to 12 places), or is null with its reason; never $0 for
an unknown cost, exactly $0 for a free model. Overrides cover every unit, per
tenant and validity range.
"""

import datetime as dt
from decimal import Decimal

import genai_prices
import pytest
from genai_prices import data_snapshot
from genai_prices.types import _collect_resolved_model_prices
from genai_prices.units import _get_registry
from hypothesis import event, given, settings
from hypothesis import strategies as st

from invlog.pricing import PriceBook
from invlog.pricing.usage import check_usage, genai_values
from tests.support.lakeread import rows

NOW = dt.datetime.now(dt.UTC)
BOOK = PriceBook()  # shared, so the cached fast path is what most examples exercise
_SNAP = data_snapshot.get_snapshot()
PROVIDERS = ("openai", "anthropic", "google", "deepseek", "aws", "azure", "groq", "mistral", "x-ai", "openrouter")


def _findable(provider, model):
    try:
        _SNAP.find_provider_model(model, None, provider, None)
    except LookupError:  # a model id its own match rules do not match
        return False
    return True


MODELS = [(p.id, m.id) for p in _SNAP.providers if p.id in PROVIDERS for m in p.models[:25] if _findable(p.id, m.id)]
TIERS = [None, "default", "flex", "priority", "fast"]


def test_known_case_by_hand(make_recorder):
    # gpt-4o: $2.50/M input, $1.25/M cached input, $10/M output.
    # 200 uncached * 2.5 + 1000 cached * 1.25 + 80 * 10 = 500 + 1250 + 800 = 2550 per million = $0.00255.
    rec = make_recorder()
    with rec.invocation(tenant="acme", agent="etl", provider="openai", model="gpt-4o", trigger="task") as inv:
        with inv.round(messages=[{"role": "user", "content": "hi"}], request_params={"temperature": 0}) as r:
            r.set_response(text="hello", tool_calls=[], stop_reason="stop",
                           usage={"input_tokens": 1200, "output_tokens": 80, "cache_read_tokens": 1000})
    assert inv.cost_usd == Decimal("0.00255")
    assert rec.flush()
    (i,) = rows(rec.lake, "invocations")
    (r,) = rows(rec.lake, "rounds")
    assert i["cost_usd"] == r["cost_usd"] == inv.cost_usd == Decimal("0.00255")
    assert r["price_source"].startswith("genai-prices") and r["unpriced_reason"] is None


def test_anthropic_billed_units_by_hand(make_recorder):
    # claude-sonnet-4-5: $3/M input, $0.30/M cache read, $3.75/M 5-minute write, $6/M 1-hour write,
    # $15/M output, $10 per 1,000 web searches. 1,300 input = 1,000 read + 100 5m + 100 1h + 100 plain.
    usage = {"input_tokens": 1300, "output_tokens": 50, "cache_read_tokens": 1000, "cache_write_5m_tokens": 100,
             "cache_write_1h_tokens": 100, "web_search_requests": 2}
    expected = (Decimal(100 * 3 + 1000 * Decimal("0.3") + 100 * Decimal("3.75") + 100 * 6 + 50 * 15) / 10**6
                + 2 * Decimal(10) / 1000)
    rec = make_recorder()
    with rec.invocation(tenant="acme", agent="a", provider="anthropic", model="claude-sonnet-4-5") as inv:
        with inv.round() as r:
            r.set_response("x", usage=usage)
    assert inv.cost_usd == expected == Decimal("0.022325")
    assert rec.flush()
    (rd,) = rows(rec.lake, "rounds")
    (i,) = rows(rec.lake, "invocations")
    assert rd["cost_usd"] == i["cost_usd"] == expected
    assert (rd["cache_write_tokens"], rd["cache_write_5m_tokens"], rd["cache_write_1h_tokens"]) == (200, 100, 100)
    assert rd["web_search_requests"] == i["web_search_requests"] == 2


@pytest.mark.parametrize("usage", [None, {}])
def test_a_response_without_usage_is_unpriced_not_free(make_recorder, usage):
    # An OpenAI-compatible server that ignores stream_options.include_usage returns no usage at all.
    rec = make_recorder()
    with rec.invocation(tenant="acme", agent="etl", provider="openai", model="gpt-4o", trigger="task") as inv:
        with inv.round(messages=[{"role": "user", "content": "hi"}]) as r:
            r.set_response(text="hello", stop_reason="stop", usage=usage)
    assert inv.cost_usd is None and r.cost_usd is None and inv.unpriced_reason == "missing_usage"
    assert rec.flush()
    (i,) = rows(rec.lake, "invocations")
    (rr,) = rows(rec.lake, "rounds")
    assert i["cost_usd"] is None and i["unpriced"] is True and rr["cost_usd"] is None and rr["unpriced"] is True
    assert i["unpriced_reason"] == rr["unpriced_reason"] == "missing_usage"


def _genai(provider, model, values, when, ctx):
    return genai_prices.calc_price(genai_prices.Usage(**values), model, provider_id=provider,
                                   genai_request_timestamp=when, price_context=ctx or None).total_price


def _covered(provider, model, values, when, ctx):
    prov, info = _SNAP.find_provider_model(model, None, provider, None)
    own = any(m is info for m in prov.models)
    mp = info.get_prices(when, (ctx or None) if own else None)
    priced = [u for u, _ in _collect_resolved_model_prices(mp, _get_registry())]
    units = _get_registry().units
    return not priced or all(any(u.dimensions.items() <= units[k].dimensions.items() for u in priced)
                             for k in values)


@st.composite
def usages(draw):
    i = draw(st.integers(0, 400_000))
    cr = draw(st.integers(0, i))
    cw = draw(st.sampled_from([0, draw(st.integers(0, i - cr))]))
    w1 = draw(st.sampled_from([0, draw(st.integers(0, cw))]))
    w5 = draw(st.sampled_from([0, cw - w1]))
    ia = draw(st.sampled_from([0, draw(st.integers(0, i - cr - cw))]))
    o = draw(st.integers(0, 60_000))
    u = {"input_tokens": i, "output_tokens": o, "cache_read_tokens": cr, "cache_write_tokens": cw,
         "reasoning_tokens": draw(st.sampled_from([0, draw(st.integers(0, o))])),
         "cache_write_5m_tokens": w5, "cache_write_1h_tokens": w1, "input_audio_tokens": ia,
         "output_audio_tokens": draw(st.sampled_from([0, draw(st.integers(0, o))])),
         "web_search_requests": draw(st.sampled_from([0, 0, 1, 7]))}
    return {k: v for k, v in u.items() if v or k in ("input_tokens", "output_tokens")}


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(MODELS), usages(), st.integers(0, 86_400 * 400 - 1), st.sampled_from(TIERS), st.booleans())
def test_equals_genai_prices_on_every_unit_instant_and_tier(model, usage, seconds_back, tier, batch):
    provider, name = model
    when = NOW.replace(microsecond=0) - dt.timedelta(seconds=seconds_back)
    ctx = {**({"processing": "batch"} if batch else {}), **({"service_tier": tier} if tier else {})}
    values = genai_values(*check_usage(usage)[:2])
    ours, reason = BOOK.cost_usd("t", provider, name, when, usage, service_tier=tier, batch=batch)
    try:
        theirs = _genai(provider, name, values, when, ctx)
    except ValueError:  # genai-prices cannot read this usage for this model
        event("genai-prices refuses the usage")
        assert ours is None and reason in ("unreadable_usage", "no_price_for_unit")
        return
    if not _covered(provider, name, values, when, ctx):
        event("a unit without a price")
        assert ours is None and reason == "no_price_for_unit"  # genai-prices would price that unit at $0
    else:
        event("priced" if theirs else "priced at $0")
        assert reason is None and ours == theirs.quantize(Decimal("1e-12"))


def test_free_models_are_priced_at_exactly_zero(make_recorder):
    rec = make_recorder()
    with rec.invocation(tenant="acme", agent="a", provider="openrouter", model="allenai/molmo-7b-d:free") as inv:
        with inv.round() as r:
            r.set_response("x", usage={"input_tokens": 1000, "output_tokens": 100})
    assert inv.cost_usd == 0 and not inv.unpriced
    assert rec.flush()
    (i,) = rows(rec.lake, "invocations")
    assert i["cost_usd"] == 0 and i["unpriced"] is False and i["unpriced_reason"] is None


def test_time_of_day_prices_at_the_exact_instant():
    # deepseek-chat's off-peak window starts at 16:30 UTC: a microsecond decides the price.
    usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
    day = NOW.replace(hour=0, minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    for when in (day.replace(hour=16, minute=29, second=59, microsecond=999_999), day.replace(hour=16, minute=30),
                 day.replace(hour=0, minute=29), day.replace(hour=0, minute=30), day.replace(hour=9)):
        ours, _ = BOOK.cost_usd("t", "deepseek", "deepseek-chat", when, usage)
        assert ours == _genai("deepseek", "deepseek-chat", usage, when, {}).quantize(Decimal("1e-12"))
    peak = BOOK.cost_usd("t", "deepseek", "deepseek-chat", day.replace(hour=16, minute=29, second=59,
                                                                        microsecond=999_999), usage)[0]
    off = BOOK.cost_usd("t", "deepseek", "deepseek-chat", day.replace(hour=16, minute=30), usage)[0]
    assert off < peak


def test_service_tier_and_batch_change_the_price(make_recorder):
    usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000}
    rec = make_recorder()
    costs = {}
    for tier, batch in ((None, False), ("flex", False), ("priority", False), (None, True)):
        with rec.invocation(tenant="acme", agent="a", provider="openai", model="gpt-5") as inv, inv.round() as r:
            r.set_response("x", usage=usage, service_tier=tier, batch=batch)
        costs[(tier, batch)] = inv.cost_usd
        ctx = {**({"processing": "batch"} if batch else {}), **({"service_tier": tier} if tier else {})}
        assert inv.cost_usd == _genai("openai", "gpt-5", usage, NOW, ctx).quantize(Decimal("1e-12"))
    assert costs[("flex", False)] < costs[(None, False)] < costs[("priority", False)]
    assert costs[(None, True)] == costs[(None, False)] / 2
    assert rec.flush()
    got = {(r["service_tier"], r["batch"]): r["cost_usd"] for r in rows(rec.lake, "rounds")}
    assert got == {(t, b): c for (t, b), c in costs.items()}


def test_unknown_model_is_unpriced_never_zero(make_recorder):
    rec = make_recorder()
    with rec.invocation(tenant="acme", agent="a", provider="openai", model="my-own-model-x") as inv:
        with inv.round() as r:
            r.set_response("x", usage={"input_tokens": 100, "output_tokens": 10})
    assert inv.cost_usd is None and inv.unpriced and inv.unpriced_reason == "unknown_model"
    assert rec.flush()
    (i,) = rows(rec.lake, "invocations")
    (rd,) = rows(rec.lake, "rounds")
    assert i["cost_usd"] is None and i["unpriced"] is True and i["unpriced_reason"] == "unknown_model"
    assert rd["cost_usd"] is None and rd["unpriced"] is True and rd["price_source"] is None


def test_a_unit_without_a_price_is_unpriced_with_its_reason():
    # gpt-4o-mini has no price for audio seconds: the run is unpriced, not priced without them.
    ours, reason = BOOK.cost_usd("t", "openai", "gpt-4o-mini", NOW,
                                 {"input_tokens": 10, "output_tokens": 1, "input_audio_seconds": 3})
    assert (ours, reason) == (None, "no_price_for_unit")


def test_overrides_per_tenant_model_unit_and_validity(tmp_path, make_recorder):
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[[price]]\nprovider = "openai"\nmodel = "ft:gpt-4o:acme"\ninput_mtok = "3.75"\noutput_mtok = "15"\n'
        'cache_read_mtok = "1.875"\n\n'
        '[[price]]\nprovider = "openai"\nmodel = "gpt-4o"\ntenant = "bigco"\ninput_mtok = "2"\noutput_mtok = "8"\n'
        'input_audio_mtok = "40"\noutput_audio_mtok = "80"\nweb_searches_kcount = "25"\n\n'
        '[[price]]\nprovider = "anthropic"\nmodel = "claude-sonnet-4-5"\nfrom = 2026-01-01\nuntil = 2026-02-01\n'
        'input_mtok = "1"\noutput_mtok = "1"\ncache_read_mtok = "0.1"\ncache_write_mtok = "1.25"\n'
        'cache_write_1h_mtok = "2"\n'
    )
    rec = make_recorder(prices=str(prices))
    usage = {"input_tokens": 1_000_000, "output_tokens": 1_000_000, "cache_read_tokens": 0}
    costs = {}
    for tenant, model in (("acme", "ft:gpt-4o:acme"), ("bigco", "gpt-4o"), ("acme", "gpt-4o")):
        with rec.invocation(tenant=tenant, agent="a", provider="openai", model=model) as inv, inv.round() as r:
            r.set_response("x", usage=usage)
        costs[(tenant, model)] = (inv.cost_usd, r._price_source)
    assert costs[("acme", "ft:gpt-4o:acme")] == (Decimal("18.75"), "override:prices.toml")
    assert costs[("bigco", "gpt-4o")] == (Decimal("10"), "override:prices.toml")
    assert costs[("acme", "gpt-4o")][0] == Decimal("12.5")
    assert costs[("acme", "gpt-4o")][1].startswith("genai-prices")
    book = PriceBook(prices)
    # Audio and searches at the negotiated prices: 1M input of which 0.5M audio, 1M output of which 0.25M audio.
    audio = {"input_tokens": 1_000_000, "input_audio_tokens": 500_000, "output_tokens": 1_000_000,
             "output_audio_tokens": 250_000, "web_search_requests": 4}
    assert book.cost_usd("bigco", "openai", "gpt-4o", NOW, audio)[0] == Decimal(
        "1") + Decimal("20") + Decimal("6") + Decimal("20") + Decimal("0.1")
    # The validity range: January 2026 at the override, the day after at genai-prices' price.
    cache = {"input_tokens": 1_000_000, "cache_read_tokens": 200_000, "cache_write_tokens": 300_000,
             "cache_write_1h_tokens": 100_000, "output_tokens": 0}
    jan = dt.datetime(2026, 1, 31, 23, 59, tzinfo=dt.UTC)
    assert book.cost_usd("x", "anthropic", "claude-sonnet-4-5", jan, cache)[0] == Decimal(
        "0.5") + Decimal("0.02") + Decimal("0.25") + Decimal("0.2")
    feb = jan + dt.timedelta(minutes=1)
    assert book.cost_usd("x", "anthropic", "claude-sonnet-4-5", feb, cache)[0] == _genai(
        "anthropic", "claude-sonnet-4-5", cache, feb, {}).quantize(Decimal("1e-12"))


@pytest.mark.parametrize(("text", "message"), [
    ('[[price]]\nprovider = "openai"\n', "entry 1: model is required"),
    ('[[price]]\nprovider = "openai"\nmodel = "m"\n', "no price given"),
    ('[[price]]\nprovider = "openai"\nmodel = "m"\ninput_mtok = 2.5\n', "decimal strings"),
    ('[[price]]\nprovider = "openai"\nmodel = "m"\ninput_mtok = "x"\n', "input_mtok = 'x' is not a decimal"),
    ('[[price]]\nprovider = "openai"\nmodel = "m"\ninput_tokens = "1"\n', "unknown field 'input_tokens'"),
    ('[[price]]\nprovider = "openai"\nmodel = "m"\ncache_read_mtok = "1"\n', "Missing ancestor price"),
    ('[[price]]\nprovider = "o"\nmodel = "m"\ninput_mtok = "1"\nfrom = 2026-02-01\nuntil = 2026-01-01\n',
     "until"),
])
def test_bad_overrides_file_names_entry_and_field(tmp_path, text, message):
    p = tmp_path / "p.toml"
    p.write_text(text)
    with pytest.raises(ValueError, match=r"p\.toml") as exc:
        PriceBook(p)
    assert message in str(exc.value)


def test_long_context_tier():
    # Above 200k input tokens every token is billed at the long-context rate ($6/M instead of $3/M).
    assert BOOK.cost_usd("t", "anthropic", "claude-sonnet-4-5", NOW, {"input_tokens": 200_000})[0] == Decimal("0.6")
    assert BOOK.cost_usd("t", "anthropic", "claude-sonnet-4-5", NOW,
                         {"input_tokens": 200_001})[0] == Decimal("1.200006")
