"""``Recorder(encoder_process=True)``: batches encoded in a helper process.

The helper must write exactly what the in-thread encoder writes (redaction and
truncation included), and it must cost nothing but speed when it dies: a killed
helper loses no record, is replaced, and the recorder keeps acknowledging.
"""

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal

import pytest

from recorder.encode_worker import NotPicklable, pack_chunk, unpack_chunks
from tests.recorder.test_recorder import INV, USAGE
from tests.support.lakeread import rows
from tests.support.records import CANARY, all_text


def _record(rec, k0, n):
    params = {"headers": {"Authorization": f"Bearer {CANARY}"}, "max_tokens": 256}
    for k in range(k0, k0 + n):
        # Every seventh run carries values marshal cannot write (its chunk is pickled instead).
        variables = {"amount": Decimal("1.25"), "at": dt.datetime(2026, 1, 2, tzinfo=dt.UTC)} if k % 7 == 0 else None
        with rec.invocation(**INV, user_message=f"question {k}", variables=variables) as inv:
            msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": f"question {k}"}]
            with inv.round(msgs, request_params=params) as r:
                r.set_response(f"answer {k}", tool_calls=[{"id": f"c{k}", "name": "f", "arguments": {"k": k}}],
                               usage=USAGE)
                r.set_tool_result(0, {"k": k})
            with inv.round([*msgs, {"role": "tool", "content": "x" * 5000}]) as r:
                r.set_response("done", usage=USAGE)


def _wait_ready(rec, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        worker = rec._flusher.helper.worker
        if worker is not None and worker.ready and worker.dead is None:
            return worker
        time.sleep(0.05)
    raise AssertionError("the encoder process did not start")


def _comparable(rec, table):
    out = []
    for r in rows(rec.lake, table):
        r = dict(r)
        for volatile in ("invocation_id", "started_at", "ended_at", "latency_ms", "ttft_ms"):
            r.pop(volatile, None)
        if r.get("tool_calls"):  # when each tool ran is timing too
            r["tool_calls"] = [{k: v for k, v in c.items() if k not in ("started_us", "duration_us")}
                               for c in json.loads(r["tool_calls"])]
        out.append(json.dumps(r, sort_keys=True, default=str))
    return sorted(out)


def test_helper_writes_what_the_thread_writes(make_recorder, tmp_path):
    here = make_recorder(str(tmp_path / "a"), max_field_bytes=4096)
    helper = make_recorder(str(tmp_path / "b"), max_field_bytes=4096, encoder_process=True)
    worker = _wait_ready(helper)
    for rec in (here, helper):
        _record(rec, 0, 300)
        assert rec.flush()
    assert _comparable(here, "rounds") == _comparable(helper, "rounds")
    assert _comparable(here, "invocations") == _comparable(helper, "invocations")
    assert "CANARY" not in all_text(helper)
    assert helper.stats()["truncated_fields"] == here.stats()["truncated_fields"] == 300  # the 5,000-char tool text
    assert helper.stats()["encoder_process_errors"] == 0
    helper.shutdown()
    assert worker.proc.poll() is not None  # shutdown stops the helper


def test_chunks_use_marshal_for_plain_rows_and_pickle_otherwise():
    shared = {"role": "system", "content": "be brief"}
    plain = ([("id1", 1, None, 2.5, True)], [("id1", 0, [shared]), ("id1", 1, [shared, {"role": "user"}])])
    chunk = pack_chunk(*plain)
    assert chunk[:1] == b"M"
    inv, rnd = unpack_chunks([chunk, pack_chunk([("id2",)], [])])
    assert inv == [*plain[0], ("id2",)] and rnd == plain[1]
    assert rnd[0][2][0] is rnd[1][2][0]  # a message shared by two rounds stays one object (checked once)
    other = pack_chunk([("id3", Decimal("0.1"), dt.date(2026, 1, 2))], [])
    assert other[:1] == b"P" and unpack_chunks([other])[0] == [("id3", Decimal("0.1"), dt.date(2026, 1, 2))]
    with pytest.raises(NotPicklable):
        pack_chunk([("id4", threading.Lock())], [])


def test_staged_chunks_count_against_the_queue_bound(make_recorder):
    rec = make_recorder(encoder_process=True, max_queue=50, batch_size=1000, spool_interval=30.0)
    worker = _wait_ready(rec)
    os.kill(worker.proc.pid, signal.SIGSTOP)  # nothing leaves the staging area for now
    try:
        _record(rec, 0, 120)
        deadline = time.monotonic() + 10
        while rec._flusher.helper.pending() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        stats = rec.stats()
        assert rec.pending() <= 50 and stats["queue_depth"] <= 50
        assert stats["dropped_queue_full"] >= 70  # the bound holds across queue and staging
    finally:
        os.kill(worker.proc.pid, signal.SIGCONT)
    assert rec.flush(timeout=30) is False  # drops are reported by the next flush
    assert len(rows(rec.lake, "invocations")) == 120 - rec.stats()["dropped_queue_full"]


def test_killed_helper_loses_nothing_and_is_replaced(make_recorder):
    rec = make_recorder(encoder_process=True, batch_size=16)
    first = _wait_ready(rec)
    _record(rec, 0, 200)
    os.kill(first.proc.pid, signal.SIGKILL)  # while it may hold batches
    _record(rec, 200, 200)
    assert rec.flush(timeout=60)
    ids = [r["user_message"] for r in rows(rec.lake, "invocations")]
    assert sorted(ids) == sorted(f"question {k}" for k in range(400))  # each exactly once
    assert len(rows(rec.lake, "rounds")) == 800
    stats = rec.stats()
    assert stats["encoder_process_errors"] >= 1 and stats["dropped_encode"] == 0
    second = _wait_ready(rec)
    assert second is not first and second.proc.poll() is None
    _record(rec, 400, 10)
    assert rec.flush()
    assert len(rows(rec.lake, "invocations")) == 410


def test_helper_killed_while_idle_is_replaced(make_recorder):
    rec = make_recorder(encoder_process=True)
    first = _wait_ready(rec)
    _record(rec, 0, 20)
    assert rec.flush()
    os.kill(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    _record(rec, 20, 20)
    assert rec.flush()
    assert len(rows(rec.lake, "invocations")) == 40 and rec.stats()["encoder_process_errors"] >= 1
    assert _wait_ready(rec) is not first


def test_an_unpicklable_batch_is_encoded_here_and_the_helper_keeps_its_own(make_recorder):
    rec = make_recorder(encoder_process=True, batch_size=1)
    worker = _wait_ready(rec)

    def run(k, **extra):
        with rec.invocation(**INV, user_message=f"question {k}", **extra) as inv, inv.round() as r:
            r.set_response("ok", usage=USAGE)

    os.kill(worker.proc.pid, signal.SIGSTOP)  # the helper holds what it is sent, unanswered
    try:
        run(0)
        deadline = time.monotonic() + 10
        while not rec._flusher.helper.in_flight() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert rec._flusher.helper.in_flight() == 1
        run(1, variables={"lock": threading.Lock()})  # cannot be pickled: encoded here meanwhile
        deadline = time.monotonic() + 10
        while rec.stats()["encoder_process_errors"] == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        os.kill(worker.proc.pid, signal.SIGCONT)
    run(2)
    assert rec.flush(timeout=30)
    assert sorted(r["user_message"] for r in rows(rec.lake, "invocations")) == [
        "question 0", "question 1", "question 2"]  # each exactly once
    stats = rec.stats()
    assert stats["encoder_process_errors"] == 1 and stats["dropped_encode"] == 0
    assert rec._flusher.helper.worker is worker and worker.dead is None  # not replaced: it was fine


def test_a_redaction_hook_keeps_encoding_in_process(make_recorder):
    rec = make_recorder(encoder_process=True, redact=lambda field, value: value)
    _record(rec, 0, 5)
    assert rec.flush()
    assert rec._flusher.helper.worker is None and len(rows(rec.lake, "invocations")) == 5


def test_runs_recorded_while_the_helper_starts_wait_for_it(tmp_path):
    # Encoding in the agent's process would load pyarrow's pandas glue there for good; with a
    # helper, the agent's process never encodes, not even before the helper is ready.
    script = f"""
import sys
from recorder import Recorder
rec = Recorder(lake={str(tmp_path / 'lake')!r}, encoder_process=True)
for k in range(50):
    with rec.invocation(tenant="acme", agent="a", provider="openai", model="gpt-4o") as inv:
        with inv.round([{{"role": "user", "content": f"q{{k}}"}}]) as r:
            r.set_response("ok", usage={{"input_tokens": 10, "output_tokens": 1}})
print(rec.flush(timeout=60), rec.stats()["written_invocations"], rec.stats()["encoder_process_errors"])
print(sorted(m for m in ("pandas", "pyarrow.dataset") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    assert out.splitlines() == ["True 50 0", "[]"]


def test_shutdown_does_not_wait_for_a_helper_that_never_starts(make_recorder, tmp_path, monkeypatch):
    hung = tmp_path / "hung-python"
    hung.write_text("#!/bin/sh\nexec sleep 600\n")  # starts, never says it is ready
    hung.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(hung))
    rec = make_recorder(encoder_process=True)
    deadline = time.monotonic() + 10
    while rec._flusher.helper.worker is None and time.monotonic() < deadline:  # started by the flusher thread
        time.sleep(0.01)
    worker = rec._flusher.helper.worker
    assert worker is not None
    _record(rec, 0, 20)
    assert not worker.ready and rec.stats()["queue_depth"] == 20  # staged, waiting for the helper
    t0 = time.monotonic()
    assert rec.shutdown(timeout=8) is True  # the staged runs are encoded here, not held for the helper
    assert time.monotonic() - t0 < 8
    assert len(rows(rec.lake, "invocations")) == 20
    assert worker.proc.poll() is not None  # and the hung helper is gone
