"""What the recorder writes reads back equal, on a local lake and on S3 (moto server)."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.lakeread import rows
from tests.support.recording import compare, invocation_spec, record


def _check_roundtrip(rec, specs):
    expected = [record(rec, s) for s in specs]
    assert rec.flush(timeout=60)
    inv = {r["invocation_id"]: r for r in rows(rec.lake, "invocations")}
    rnd = {(r["invocation_id"], r["round_index"]): r for r in rows(rec.lake, "rounds")}
    for e in expected:
        compare(e, inv, rnd)
    # every invocation's cost equals the exact sum of its rounds' costs
    for i in inv.values():
        mine = [r for (iid, _), r in rnd.items() if iid == i["invocation_id"]]
        assert len(mine) == i["round_count"]
        if not i["unpriced"]:
            assert i["cost_usd"] == sum((r["cost_usd"] for r in mine), Decimal(0))
        else:
            assert i["cost_usd"] is None and any(r["unpriced"] for r in mine)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(invocation_spec, min_size=1, max_size=8))
def test_roundtrip_local(make_recorder, specs):
    rec = make_recorder()
    _check_roundtrip(rec, specs)


@pytest.mark.s3
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(invocation_spec, min_size=1, max_size=6))
def test_roundtrip_s3(make_recorder, s3_lake, specs):
    url, opts = s3_lake
    rec = make_recorder(url, storage_options=opts)
    _check_roundtrip(rec, specs)
    assert all(p.startswith("invocations/tenant=") for p in rec.lake.find("invocations"))
