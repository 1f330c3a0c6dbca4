"""Sustained end-to-end write throughput: enqueue -> spool (fsync) -> Parquet, rounds/s.

Records ``--invocations`` invocations of 3 rounds with about 2 KB of message text
per round into a fresh local lake, durability on (group commit with fsync), and
times from the first record to ``flush()`` returning (so the publication of the
last spool segment is included). The producer respects backpressure (waits while
more than ``--max-backlog`` invocations are queued or staged), so the figure is
the rate the pipeline sustains. Baseline in the same run: a lean pipeline
(messages to JSON, tuples -> Arrow columns -> zstd Parquet; no spool, no
redaction, no fsync) over the same runs. Building the runs' messages is
timed in both. Run: ``.venv/bin/python -m bench.write_throughput``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq

from bench.workload import PARAMS, USAGE, rounds
from recorder import Recorder
from tests.support.lakeread import read_table


def lean_baseline(n: int, out: str) -> float:
    t0 = time.perf_counter()
    rows = [(f"id{k}", i, json.dumps(msgs), text, 1200, 80, 1000)
            for k in range(n) for i, (msgs, text, _) in enumerate(rounds(k))]
    cols = list(zip(*rows, strict=True))
    table = pa.table({"id": cols[0], "idx": cols[1], "messages": cols[2], "response": cols[3],
                      "input": cols[4], "output": cols[5], "cache_read": cols[6]})
    pq.write_table(table, out, compression="zstd")
    return time.perf_counter() - t0


def record(rec: Recorder, runs: range, max_backlog: int) -> None:
    pending = rec.pending
    for k in runs:
        # Sustained rate: the producer waits while more than a few batches are accepted but not
        # yet encoded (queued, or staged for the helper), instead of piling up an ever-growing
        # backlog (which would measure the garbage collector walking it, not the pipeline).
        while pending() > max_backlog:
            time.sleep(0.0005)
        work = rounds(k)
        with rec.invocation(tenant="acme", agent="support-bot", provider="openai", model="gpt-4o",
                            user_id=f"u{k % 100}", user_message=work[0][0][1]["content"]) as inv:
            for i, (msgs, text, calls) in enumerate(work):
                with inv.round(msgs, request_params=PARAMS) as r:
                    r.set_response(text, tool_calls=calls, stop_reason="tool_calls" if calls else "stop",
                                   usage=USAGE[i])
                    if calls:
                        r.set_tool_result(0, {"status": "in transit"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--invocations", type=int, default=30_000)
    ap.add_argument("--warmup", type=int, default=2_000, help="invocations recorded before timing starts")
    ap.add_argument("--encoder-process", action=argparse.BooleanOptionalAction, default=True,
                    help="encode batches in a helper process (Recorder(encoder_process=True))")
    ap.add_argument("--max-backlog", type=int, default=2_000, help="queued invocations before the producer waits")
    args = ap.parse_args()
    n = args.invocations
    tmp = tempfile.mkdtemp(prefix="invlog-bench-")
    rec = Recorder(lake=f"{tmp}/lake", max_queue=n + 1, fsync=True, encoder_process=args.encoder_process)
    # Warm-up, not timed: the first batch pays one-time costs (pyarrow imports pandas on
    # its first string conversion, about 0.3 s) that a long-running service pays once.
    record(rec, range(n, n + args.warmup), args.max_backlog)
    rec.flush(timeout=600)
    t0 = time.perf_counter()
    record(rec, range(n), args.max_backlog)
    t_enqueued = time.perf_counter() - t0
    ok = rec.flush(timeout=600)
    elapsed = time.perf_counter() - t0
    stats = rec.stats()
    rec.shutdown()
    stored = read_table(rec.lake, "rounds").num_rows - 3 * args.warmup
    base = lean_baseline(n, f"{tmp}/baseline.parquet")
    print(f"Write throughput: {n} invocations x 3 rounds, ~2 KB of messages per round, fsync on, "
          f"encoder process {'on' if args.encoder_process else 'off'}")
    print(f"{'pipeline':40} {'seconds':>8} {'rounds/s':>10}")
    print(f"{'invocation-logs (enqueue+spool+parquet)':40} {elapsed:8.2f} {3 * n / elapsed:10.0f}")
    print(f"{'  of which the producer loop':40} {t_enqueued:8.2f}")
    print(f"{'lean baseline (tuples->arrow->parquet)':40} {base:8.2f} {3 * n / base:10.0f}")
    print(f"ratio to baseline: {base / elapsed:.2f}   target >= 30,000 rounds/s")
    print(f"flush ok={ok}, rounds stored={stored}, parts={stats['parts_written']}, "
          f"dropped={stats['dropped_queue_full'] + stats['dropped_spool']}")


if __name__ == "__main__":
    main()
