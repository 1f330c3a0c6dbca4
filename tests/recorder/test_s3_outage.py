"""A storage outage (the moto S3 server stopped, then started again) loses nothing."""

import time

import pytest

from tests.support.lakeread import rows

pytestmark = pytest.mark.s3


def _record(rec, n, tag):
    worst = 0.0
    for k in range(n):
        t0 = time.perf_counter()
        with rec.invocation(tenant="acme", agent="a", provider="openai", model="gpt-4o", user_id=f"{tag}{k}") as inv:
            with inv.round([{"role": "user", "content": "hello"}]) as r:
                r.set_response("x", usage={"input_tokens": 10, "output_tokens": 1})
        worst = max(worst, time.perf_counter() - t0)
    return worst


def test_outage_recording_stays_prompt_and_nothing_is_lost(moto_s3, make_recorder):
    bucket = moto_s3.new_bucket()
    rec = make_recorder(f"s3://{bucket}/lake", storage_options=moto_s3.storage_options(),
                        spool_interval=0.02, publish_interval=0.1)
    _record(rec, 20, "before")
    assert rec.flush(timeout=30)
    moto_s3.stop()
    try:
        worst = _record(rec, 50, "during")
        time.sleep(1.0)  # let the flusher hit the outage
        # Not a speed benchmark: a recording call that waited on S3 would take seconds (connect
        # timeouts and retries); this only proves the agent never waits on storage.
        assert worst < 0.5
        assert rec.flush(timeout=1) is False
        stats = rec.stats()
        assert stats["publish_errors"] >= 1 and stats["spool_backlog_segments"] >= 1
        assert stats["written_invocations"] == 20 and stats["in_flight"] == 50
    finally:
        moto_s3.start()
    assert rec.flush(timeout=60)
    users = sorted(r["user_id"] for r in rows(rec.lake, "invocations"))
    assert len(users) == 70 and len(set(users)) == 70
    assert len(rows(rec.lake, "rounds")) == 70
    stats = rec.stats()
    assert stats["written_invocations"] == 70 and stats["in_flight"] == 0 and stats["dropped_spool"] == 0
