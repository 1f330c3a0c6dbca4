"""The low-level recording API: outcomes, tool calls, secrets, caps, attachments, concurrency."""

import asyncio
import hashlib
import json
import os
import threading
import time
from decimal import Decimal

import pytest

from recorder import LLMFile, current_invocation
from recorder.sink import MemorySink
from tests.support.lakeread import rows
from tests.support.records import CANARY, all_text

INV = {"tenant": "acme", "agent": "etl", "provider": "openai", "model": "gpt-4o"}
USAGE = {"input_tokens": 100, "output_tokens": 10}


def by_id(rec, table="invocations"):
    return {r["invocation_id"]: r for r in rows(rec.lake, table)}


def test_outcomes_success_failed_timeout(make_recorder):
    rec = make_recorder()
    with rec.invocation(**INV) as ok, ok.round() as r:
        r.set_response("fine", usage=USAGE)
    with pytest.raises(KeyError), rec.invocation(**INV) as failed:
        with failed.round() as r:
            r.set_response("x", usage=USAGE)
        raise KeyError("missing order 42")
    with pytest.raises(asyncio.TimeoutError), rec.invocation(**INV) as timed_out:
        with timed_out.round():
            raise TimeoutError("model took too long")
    with rec.invocation(**INV) as marked:
        marked.mark_timeout("deadline passed")
    with rec.invocation(**INV) as handled:  # an outcome the caller handled without raising
        handled.mark_failed("RateLimited", "gave up after 3 retries")
    with pytest.raises(ValueError, match="error_type"), rec.invocation(**INV) as bad:
        bad.mark_failed("")
    assert rec.flush()
    got = by_id(rec)
    assert got[ok.invocation_id]["status"] == "Success"
    f = got[failed.invocation_id]
    assert (f["status"], f["error_type"], f["error_message"]) == ("Failed", "KeyError", "'missing order 42'")
    assert f["round_count"] == 1 and f["cost_usd"] == Decimal("0.00035")
    t = got[timed_out.invocation_id]
    assert (t["status"], t["error_type"]) == ("Timeout", "TimeoutError")
    assert got[marked.invocation_id]["status"] == "Timeout"
    h = got[handled.invocation_id]
    assert (h["status"], h["error_type"], h["error_message"]) == ("Failed", "RateLimited", "gave up after 3 retries")
    rounds = by_id(rec, "rounds")
    assert rounds[timed_out.invocation_id]["status"] == "Timeout"


def test_round_views_tool_calls_ttft_and_totals(make_recorder):
    rec = make_recorder()
    with rec.invocation(**INV, trigger="task", user_id="u-1", task_id="celery-7", session_id="s-1",
                        prompt_name="support", prompt_version="3", system_prompt="You help Ann.",
                        user_message="Where is my order?", variables={"customer": "Ann"},
                        system_variables={"date": "2026-11-27"}) as inv:
        msgs = [{"role": "system", "content": "You help Ann."}, {"role": "user", "content": "Where is my order?"}]
        with inv.round(msgs, request_params={"temperature": 0, "max_tokens": 256}) as r1:
            r1.first_token()
            r1.set_response(None, tool_calls=[{"id": "c1", "name": "lookup_order", "arguments": {"id": 42}}],
                            stop_reason="tool_calls", usage={"input_tokens": 1200, "output_tokens": 80,
                                                             "cache_read_tokens": 1000},
                            raw_usage={"prompt_tokens": 1200, "completion_tokens": 80,
                                       "prompt_tokens_details": {"cached_tokens": 1000}})
            r1.set_tool_result("c1", {"status": "shipped"})
        msgs.append({"role": "tool", "content": '{"status": "shipped"}'})  # the agent keeps its own list
        with inv.round(msgs) as r2:
            r2.set_response("It shipped.", stop_reason="stop",
                            usage={"input_tokens": 1300, "output_tokens": 20, "cache_read_tokens": 1200})
        inv.response = "It shipped."
    assert rec.flush()
    (i,) = rows(rec.lake, "invocations")
    rs = sorted(rows(rec.lake, "rounds"), key=lambda r: r["round_index"])
    assert [r["round_index"] for r in rs] == [0, 1]
    (call,) = json.loads(rs[0]["tool_calls"])
    assert {k: v for k, v in call.items() if not k.endswith("_us")} == {
        "id": "c1", "name": "lookup_order", "arguments": {"id": 42}, "result": {"status": "shipped"}}
    assert call["started_us"] >= int(rs[0]["latency_ms"] * 1000) - 1 and call["duration_us"] >= 0  # after the answer
    assert len(json.loads(rs[0]["messages"])) == 2 and len(json.loads(rs[1]["messages"])) == 3
    assert rs[0]["ttft_ms"] is not None and i["ttft_ms"] is not None
    assert json.loads(rs[0]["raw_usage"])["prompt_tokens_details"] == {"cached_tokens": 1000}
    assert json.loads(rs[0]["request_params"]) == {"temperature": 0, "max_tokens": 256}
    assert (i["input_tokens"], i["output_tokens"], i["cache_read_tokens"]) == (2500, 100, 2200)
    assert i["cost_usd"] == rs[0]["cost_usd"] + rs[1]["cost_usd"] == inv.cost_usd
    assert (i["trigger"], i["user_id"], i["task_id"], i["prompt_version"]) == ("task", "u-1", "celery-7", "3")
    assert json.loads(i["system_variables"]) == {"date": "2026-11-27"}
    assert rs[0]["started_at"] <= rs[0]["ended_at"] <= rs[1]["started_at"] <= i["ended_at"]


def test_canary_secrets_never_reach_spool_or_lake(make_recorder, tmp_path):
    rec = make_recorder(publish_interval=3600)
    params = {
        "headers": {"Authorization": f"Bearer {CANARY}", "api-key": CANARY, "x-api-key": CANARY,
                    "Cookie": f"session={CANARY}"},
        "api_key": CANARY, "client_secret": CANARY, "nested": [{"password": CANARY}],
        "url": f"https://api.example.com/v1?key={CANARY}&x=1",
        "signed": f"https://bucket.s3.amazonaws.com/f?X-Amz-Signature={CANARY}&token={CANARY}",
        "max_tokens": 512,
    }
    with rec.invocation(**INV, files=[LLMFile.from_url(f"https://files.example.com/a.pdf?token={CANARY}")]) as inv:
        with inv.round([{"role": "user", "content": "hi"}], request_params=params) as r:
            r.set_response("ok", usage=USAGE)
    # the batch reaches the spool first: check the spool bytes while it holds them
    deadline = 0
    while deadline < 100 and not any(os.path.getsize(os.path.join(rec.spool_dir, n)) for n in
                                     os.listdir(rec.spool_dir) if n.endswith(".spool")):
        threading.Event().wait(0.05)
        deadline += 1
    spooled = b""
    for n in os.listdir(rec.spool_dir):
        with open(os.path.join(rec.spool_dir, n), "rb") as f:
            spooled += f.read()
    assert spooled and CANARY.encode() not in spooled and b"CANARY" not in spooled
    assert rec.flush()
    text = all_text(rec)
    assert "CANARY" not in text
    (rd,) = rows(rec.lake, "rounds")
    stored = json.loads(rd["request_params"])
    assert stored["max_tokens"] == 512 and stored["headers"]["Authorization"] == "[REDACTED]"
    assert stored["url"] == "https://api.example.com/v1?key=[REDACTED]&x=1"


def test_redaction_hook_runs_for_pii(make_recorder):
    def hook(field, value):
        return value.replace("ann@example.com", "<email>") if isinstance(value, str) else value

    rec = make_recorder(redact=hook)
    with rec.invocation(**INV, user_message="mail ann@example.com") as inv, inv.round() as r:
        r.set_response("sent to ann@example.com", usage=USAGE)
    assert rec.flush()
    assert "ann@example.com" not in all_text(rec)


def test_oversized_text_is_truncated_with_length_and_hash(make_recorder):
    rec = make_recorder(max_field_bytes=4096)
    big = "é" * 10_000  # 20,000 bytes of UTF-8
    with rec.invocation(**INV, user_message=big) as inv, inv.round([{"role": "user", "content": big}]) as r:
        r.set_response("ok", usage=USAGE)
    assert rec.flush()
    (i,) = rows(rec.lake, "invocations")
    (rd,) = rows(rec.lake, "rounds")
    assert len(i["user_message"].encode()) <= 4096
    note = json.loads(i["truncated"])["user_message"]
    assert note == {"length": 20_000, "sha256": hashlib.sha256(big.encode()).hexdigest()}
    assert json.loads(rd["truncated"])["messages"]["length"] > 20_000
    assert rec.stats()["truncated_fields"] == 2


def test_attachments_mirrored_once_urls_recorded_failures_fail_open(make_recorder, tmp_path, caplog):
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(b"%PDF-1.4 invoice")
    rec = make_recorder()
    files = [LLMFile.from_path(pdf), LLMFile.from_bytes(b"%PDF-1.4 invoice", filename="copy.pdf"),
             LLMFile.from_url("https://example.com/report.csv"), LLMFile.from_path(tmp_path / "missing.png")]
    with rec.invocation(**INV, files=files) as inv, inv.round() as r:
        r.set_response("ok", usage=USAGE)
    assert rec.flush()
    (i,) = rows(rec.lake, "invocations")
    att = json.loads(i["attachments"])
    sha = hashlib.sha256(b"%PDF-1.4 invoice").hexdigest()
    assert [a["source"] for a in att] == ["path", "bytes", "url", "path"]
    assert att[0] | {"uri": None} == {"filename": "invoice.pdf", "media_type": "application/pdf", "size": 16,
                                      "source": "path", "sha256": sha, "uri": None, "url": None, "error": None}
    assert att[0]["uri"] == att[1]["uri"] and att[0]["uri"].endswith(f"attachments/tenant=acme/{sha[:2]}/{sha}")
    assert att[2]["uri"] is None and att[2]["url"] == "https://example.com/report.csv" and att[2]["sha256"] is None
    assert att[3]["uri"] is None and "FileNotFoundError" in att[3]["error"]
    assert rec.lake.find("attachments") == [f"attachments/tenant=acme/{sha[:2]}/{sha}"]  # stored once
    assert rec.lake.read(f"attachments/tenant=acme/{sha[:2]}/{sha}") == b"%PDF-1.4 invoice"
    assert i["status"] == "Success" and rec.stats()["attachment_errors"] == 1
    assert "mirroring missing.png failed" in caplog.text
    # described in a list of the row's own: the caller's list and the invocation's keep their files
    assert all(isinstance(f, LLMFile) for f in files) and inv.files == files


def test_the_hot_path_hands_over_the_files_without_io(make_recorder, tmp_path):
    sink = MemorySink()
    rec = make_recorder(sink=sink)
    files = [LLMFile.from_path(tmp_path / "not-yet-written.txt")]  # would fail if anything read it now
    with rec.invocation(**INV, files=files) as inv, inv.round() as r:
        r.set_response("ok", usage=USAGE)
    (row,) = sink.invocations()
    assert row["attachments"] == files and row["attachments"] is not files and row["tenant"] == "acme"


def test_threads_and_asyncio_follow_their_own_invocation(make_recorder):
    rec = make_recorder()
    seen = []

    def worker(n):
        for k in range(50):
            with rec.invocation(**INV, user_id=f"t{n}-{k}") as inv:
                assert current_invocation() is inv
                with inv.round() as r:
                    r.set_response("x", usage=USAGE)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    async def task(n):
        with rec.invocation(**INV, user_id=f"a{n}") as inv:
            await asyncio.sleep(0.01 * (n % 3))
            seen.append(current_invocation() is inv)
            with inv.round() as r:
                await asyncio.sleep(0)
                r.set_response("y", usage=USAGE)

    async def main():
        await asyncio.gather(*(task(n) for n in range(20)))

    asyncio.run(main())
    assert current_invocation() is None
    assert rec.flush()
    users = sorted(r["user_id"] for r in rows(rec.lake, "invocations"))
    assert len(users) == 420 and len(set(users)) == 420
    assert all(seen) and len(seen) == 20
    assert rec.stats()["written_invocations"] == 420


def test_queue_full_drops_are_counted_and_flush_says_so(make_recorder):
    rec = make_recorder(max_queue=2, spool_interval=30)
    for _ in range(50):
        with rec.invocation(**INV):
            pass
    stats = rec.stats()
    # a full queue wakes the flusher, so how many fit depends on timing; the accounting may not
    assert stats["dropped_queue_full"] >= 1 and stats["dropped_queue_full"] + stats["enqueued"] == 50
    assert rec.flush() is False  # records were dropped since the last flush
    assert len(rows(rec.lake, "invocations")) == rec.stats()["enqueued"] == rec.stats()["written_invocations"]
    assert rec.flush() is True


def test_storage_failure_is_fail_open_and_drains_later(tmp_path, make_recorder):
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "invocations").write_text("not a folder")  # publishing fails: a file is in the way
    rec = make_recorder(str(lake))
    for _ in range(10):
        with rec.invocation(**INV) as inv, inv.round() as r:
            r.set_response("x", usage=USAGE)
    assert rec.flush(timeout=1) is False
    stats = rec.stats()
    assert stats["publish_errors"] >= 1 and stats["spool_backlog_segments"] >= 1
    (lake / "invocations").unlink()
    assert rec.flush(timeout=30) is True
    assert len(rows(rec.lake, "invocations")) == 10 and len(rows(rec.lake, "rounds")) == 10


def test_a_stuck_publication_does_not_hold_encoding(make_recorder):
    rec = make_recorder(batch_size=8, spool_interval=0.01, publish_interval=0.01)
    put, release, entered = rec.lake.put, threading.Event(), threading.Event()

    def stuck_put(rel, data, **kw):  # the lake hangs (a stalled connection) until released
        entered.set()
        release.wait(30)
        return put(rel, data, **kw)

    rec.lake.put = stuck_put
    try:
        with rec.invocation(**INV, user_id="first") as inv, inv.round() as r:
            r.set_response("x", usage=USAGE)
        assert entered.wait(10)  # the publisher now hangs inside a write
        for k in range(200):
            with rec.invocation(**INV, user_id=f"u{k}") as inv, inv.round() as r:
                r.set_response("x", usage=USAGE)
        deadline = time.monotonic() + 10
        while rec.stats()["queue_depth"] and time.monotonic() < deadline:
            time.sleep(0.01)
        stats = rec.stats()
        assert stats["queue_depth"] == 0  # encoded and spooled meanwhile: nothing waits in memory
        assert stats["spool_backlog_bytes"] > 0 and stats["written_invocations"] == 0
        # the open segment kept growing while the publisher was busy instead of sealing every 10 ms
        assert stats["spool_backlog_segments"] <= 3
    finally:
        release.set()
    assert rec.flush(timeout=30) is True
    assert sorted(r["user_id"] for r in rows(rec.lake, "invocations")) == sorted(
        ["first", *(f"u{k}" for k in range(200))])


def test_shutdown_is_idempotent_and_publishes(make_recorder):
    rec = make_recorder(publish_interval=3600)
    with rec.invocation(**INV):
        pass
    assert rec.shutdown() is True
    assert rec.shutdown() is True
    assert len(rows(rec.lake, "invocations")) == 1


def test_fork_child_records_with_its_own_state(make_recorder):
    rec = make_recorder()
    with rec.invocation(**INV, user_id="parent-before"):
        pass
    pid = os.fork()
    if pid == 0:  # child
        code = 1
        try:
            with rec.invocation(**INV, user_id="child"):
                pass
            code = 0 if rec.flush(timeout=20) else 2
        finally:
            os._exit(code)
    with rec.invocation(**INV, user_id="parent-after"):
        pass
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert rec.flush()
    users = sorted(r["user_id"] for r in rows(rec.lake, "invocations"))
    assert users == ["child", "parent-after", "parent-before"]


def test_pending_counts_runs_accepted_and_not_yet_spooled(make_recorder):
    rec = make_recorder(spool_interval=30.0, batch_size=1000)  # nothing wakes the flusher for 30 s
    for _ in range(3):
        with rec.invocation(**INV) as inv, inv.round() as r:
            r.set_response("fine", usage=USAGE)
    assert rec.pending() == 3
    assert rec.flush() and rec.pending() == 0


def test_every_invocation_column_lands_under_its_own_name(make_recorder):
    """A per-column sentinel: each settable column gets a value naming it (distinct numbers for the
    usage columns), so a swap anywhere in the hot path's row tuple fails here, not silently in the lake."""
    from invlog.lake import INVOCATIONS
    from invlog.pricing.usage import COLUMNS

    rec = make_recorder()
    text = ("user_id", "task_id", "session_id", "prompt_name", "prompt_version", "system_prompt", "user_message")
    usage = {c: 1000 + 10 * k for k, c in enumerate(COLUMNS)}
    usage["cache_write_tokens"] = usage["cache_write_5m_tokens"] + usage["cache_write_1h_tokens"]
    usage["input_tokens"], usage["output_tokens"] = 100_000, 50_000  # they count cached and reasoning tokens
    with rec.invocation(tenant="acme", agent="agent", provider="provider", model="model", trigger="task",
                        **{c: c for c in text}, variables={"v": "variables"},
                        system_variables={"v": "system_variables"}, memory_context=[{"v": "memory_context"}]) as inv:
        with inv.round() as r:
            r.set_response("x", usage=usage, cost_usd="0.5", reported_cost_usd="0.25")
        inv.response = "response"
        inv.trace_id, inv.incomplete = "trace_id", True  # what OpenTelemetry ingestion sets
        inv.mark_failed("error_type", "error_message")
    assert rec.flush()
    (row,) = rows(rec.lake, "invocations")
    expected = {c: c for c in (*text, "agent", "provider", "model", "response", "error_type", "error_message",
                               "trace_id")} | {"incomplete": True}
    expected |= {"tenant": "acme", "trigger": "task", "status": "Failed", "round_count": 1, "unpriced": False,
                 "cost_usd": Decimal("0.5"), "reported_cost_usd": Decimal("0.25"), "unpriced_reason": None,
                 "invocation_id": inv.invocation_id, "attachments": None} | usage
    expected |= {"variables": '{"v":"variables"}', "system_variables": '{"v":"system_variables"}',
                 "memory_context": '[{"v":"memory_context"}]'}
    got = {c: row[c] for c in expected}
    for c in ("variables", "system_variables", "memory_context"):
        got[c] = json.dumps(json.loads(got[c]), separators=(",", ":"))
    assert got == expected
    assert row["ended_at"] >= row["started_at"] and str(row["date"]) == str(row["started_at"])[:10]
    assert set(expected) | {"date", "started_at", "ended_at", "latency_ms", "ttft_ms", "truncated",
                            "schema_version"} == set(INVOCATIONS.names)  # every column is covered


def test_a_memory_sink_takes_the_rows_without_a_lake(tmp_path):
    from recorder import Recorder
    from recorder.sink import MemorySink

    sink = MemorySink()
    rec = Recorder(lake=str(tmp_path / "lake"), spool_dir=str(tmp_path / "spool"), sink=sink)
    with rec.invocation(**INV) as inv, inv.round() as r:
        r.set_response("fine", usage=USAGE)
    (row,) = sink.invocations()
    (rnd,) = sink.rounds()
    assert (row["invocation_id"], row["tenant"], row["round_count"]) == (inv.invocation_id, INV["tenant"], 1)
    assert rnd["invocation_id"] == inv.invocation_id and rnd["input_tokens"] == USAGE["input_tokens"]
    assert inv.cost_usd is not None and sink.errors == 0  # priced with the recorder's own price book
    assert rec.flush() and not rec.lake.find("invocations")  # nothing went to the flusher
    rec.shutdown()


def test_wait_durable_returns_once_spooled_without_waiting_for_publication(make_recorder):
    """``wait_durable``: the runs are in the spool (fsynced), the lake has nothing yet (publication is an hour
    away); ``flush`` would wait for it. A recorder that dropped runs meanwhile says False."""
    rec = make_recorder(publish_interval=3600, spool_interval=0.01)
    for _ in range(3):
        with rec.invocation(**INV) as inv, inv.round() as r:
            r.set_response("fine", usage=USAGE)
    t0 = time.monotonic()
    assert rec.wait_durable(10) and time.monotonic() - t0 < 5
    assert rows(rec.lake, "invocations") == []  # not published
    spooled = [f for f in os.listdir(rec.spool_dir) if os.path.getsize(os.path.join(rec.spool_dir, f))]
    assert spooled  # the segment holding them
    rec._flusher.ledger.drop(1, "dropped_queue_full")  # as the queue does when it is full
    with rec.invocation(**INV) as inv, inv.round() as r:
        r.set_response("fine", usage=USAGE)
    assert not rec.wait_durable(10)
    assert rec.flush(30) is False and len(rows(rec.lake, "invocations")) == 4  # flush says it too; nothing else lost
