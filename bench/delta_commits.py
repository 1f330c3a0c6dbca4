"""Delta commit latency and throughput with 1, 8 and 32 writer processes on one local lake.

``python -m bench.delta_commits [--seconds 10] [--writers 1,8,32] [--batch 1]``

Each writer process repeatedly publishes a small part pair (one run, one round) and commits
its pending record (``invlog.lake.commit.commit_records``, as a recorder's committer does,
with its retries); ``--batch N`` publishes N parts per commit, as a recorder collecting a
minute of publications does. Prints, per writer count: commits/s over all writers, median
and p95 latency of one commit (retries included), commits that exhausted their retries
(their records stay pending: nothing lost), and the ratio of the commit rate to the
1-writer baseline of the same run. A recorder commits at most once a minute, so 32
recorders need about 0.5 commits/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import statistics
import tempfile
import time

from invlog.lake import Lake, new_part_id
from invlog.lake.commit import commit_records
from invlog.lake.delta import CommitError
from recorder import Recorder, parts
from recorder.encode import Encoder
from recorder.sink import MemorySink


def _tables():
    sink = MemorySink()  # the queued tuples, encoded below exactly as the flusher does
    rec = Recorder(lake=tempfile.mkdtemp(prefix="invlog-bench-"), spool_dir=tempfile.mkdtemp(), sink=sink)
    items = sink.items
    with rec.invocation(tenant="acme", agent="a", provider="openai", model="gpt-4o") as inv, inv.round() as r:
        r.set_response("ok", usage={"input_tokens": 1000, "output_tokens": 100})
    rec.shutdown()
    enc = Encoder()
    return enc.table("invocations", [i[0] for i in items]), enc.table("rounds", [x for i in items for x in i[1]])


def _writer(lake_root: str, seconds: float, batch: int, start_at: float, out) -> None:
    inv, rnd = _tables()
    lake = Lake(lake_root)
    lat, failed, n = [], 0, 0
    while time.time() < start_at:
        time.sleep(0.001)
    end = start_at + seconds
    while time.time() < end:
        ids = [parts.publish(lake, new_part_id(), [inv], [rnd])[3] for _ in range(batch)]
        t0 = time.perf_counter()
        try:
            commit_records(lake, ids)
            n += 1
            lat.append(time.perf_counter() - t0)
        except CommitError:
            failed += 1
    out.put((n, failed, lat))


def run(writers: int, seconds: float, batch: int) -> tuple[float, float, float, int]:
    root = tempfile.mkdtemp(prefix="invlog-commits-")
    inv, rnd = _tables()
    lake = Lake(root)
    commit_records(lake, [parts.publish(lake, new_part_id(), [inv], [rnd])[3]])  # the tables exist
    ctx = mp.get_context("spawn")  # not fork: delta-rs's runtime threads do not survive a fork
    out = ctx.Queue()
    start_at = time.time() + 3.0 + writers * 0.3  # every process started and warm before the clock
    procs = [ctx.Process(target=_writer, args=(root, seconds, batch, start_at, out)) for _ in range(writers)]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    commits = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    lat = sorted(x for r in results for x in r[2])
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else float("nan")
    return commits / seconds, statistics.median(lat) * 1000 if lat else float("nan"), p95 * 1000, failed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--writers", default="1,8,32")
    ap.add_argument("--batch", type=int, default=1, help="parts per commit")
    args = ap.parse_args()
    counts = [int(x) for x in args.writers.split(",")]
    print(f"Delta commits on a local lake, {args.seconds:.0f} s per row, {args.batch} part(s) per commit, "
          f"{os.cpu_count()} cores, {dt.date.today()}")
    print(f"{'writers':>8} {'commits/s':>10} {'median ms':>10} {'p95 ms':>8} {'failed':>7} {'rate vs 1 writer':>17}")
    base = None
    for w in counts:
        rate, med, p95, failed = run(w, args.seconds, args.batch)
        base = base or rate
        print(f"{w:>8} {rate:10.1f} {med:10.1f} {p95:8.1f} {failed:>7} {rate / base:17.2f}")


if __name__ == "__main__":
    main()
