"""Warm latency of each Warehouse query for the largest tenant, against a native DuckDB table.

``python -m bench.warehouse_queries --lake /tmp/bench-lake [--runs 15]``

Generate the lake first (``python -m bench.gen_lake --out /tmp/bench-lake``: 10 million
invocations, about 30 million rounds, 20 tenants x 90 days). The script measures, for
``tenant-00`` (the largest): the 30-day cost trend, top agents over 90 days, errors in
the last 24 h, tenant totals, a filtered invocation page and a trace; (1) over the
compacted lake, (2) over a copy of that tenant with its last 30 days split into
``--fragments`` files per partition, (3) over the same copy after ``compact``; and the
same SQL over one native DuckDB table holding the tenant's rows, in the same run.
Before measuring it runs ``python -m warehouse compact --tenant tenant-00`` (as
maintenance would; the first time it writes the rollups of the tenant's days), so
the trend and top agents read per-day rollups for whole days, like the native table
reads rows. Prints median milliseconds, ratios and the query process's peak memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from invlog.lake import Lake
from invlog.lake.files import parquet_bytes
from invlog.lake.layout import tenant_path
from warehouse import Warehouse, rollup, sqlfiles
from warehouse import compact as maint
from warehouse.core import GRAINS, HIVE, SORTS, SPLITS

TENANT = "tenant-00"


def timed(fn, runs: int) -> float:
    fn()  # warm
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def workload(wh: Warehouse, today: dt.date, iid: str) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC)
    return {
        "cost trend, 30 days by agent": lambda: wh.cost_trend(TENANT, today - dt.timedelta(days=29), today,
                                                              grain="day", split_by="agent"),
        "top agents, 90 days": lambda: wh.expensive_agents(TENANT, today - dt.timedelta(days=89), today),
        "errors in the last 24 h": lambda: wh.invocations(TENANT, now - dt.timedelta(hours=24), now,
                                                          status="Failed", limit=50),
        "tenant totals": lambda: wh.tenant_totals(TENANT),
        "invocations page (cost sort, 7 days)": lambda: wh.invocations(TENANT, today - dt.timedelta(days=6), today,
                                                                       sort="cost", limit=50),
        "trace": lambda: wh.trace(TENANT, iid),
    }


def native(lake: str, today: dt.date, iid: str) -> dict[str, object]:
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    inv_glob = os.path.join(lake, tenant_path("invocations", TENANT), "*", "*.parquet")
    rnd_glob = os.path.join(lake, tenant_path("rounds", TENANT), "*", "*.parquet")
    con.execute(f"create table inv as select * from read_parquet('{inv_glob}', {HIVE})")
    con.execute(f"create table rnd as select * from read_parquet('{rnd_glob}', {HIVE})")
    con.execute("create macro inv_src(files) as table select * from inv")
    con.execute("create macro rounds_src(files) as table select * from rnd")
    for macro in rollup.MACROS:
        con.execute(macro)
    no_rollups = [os.path.join(tempfile.mkdtemp(prefix="invlog-norollup-"), "empty.parquet")]
    pq.write_table(rollup.empty(), no_rollups[0])
    now = dt.datetime.now(dt.UTC)
    day_start = dt.datetime.combine(now.date(), dt.time(), dt.UTC)

    def q(name: str, params: dict, **slots: str):
        sql = sqlfiles.render(name, **slots) if slots else sqlfiles.load(name)
        return lambda: con.execute(sql, {"inv_files": [], **params}).fetchall()

    def day(d: dt.date) -> dt.datetime:
        return dt.datetime.combine(d, dt.time(), dt.UTC)

    filters = dict.fromkeys(("agent", "model", "provider", "trigger", "user_id", "session_id", "text", "min_cost",
                             "statuses"))
    return {
        "cost trend, 30 days by agent": q("cost_trend", {"tenant": TENANT, "start": day(today - dt.timedelta(days=29)),
                                                         "end": day(today + dt.timedelta(days=1)), "grain": "day",
                                                         "step": GRAINS["day"], "rollup_files": no_rollups,
                                                         "bucket_us": 86_400_000_000, "dim": "agent"},
                                          split=SPLITS["agent"], splits="select distinct split from src",
                                          rollup_split="key"),
        "top agents, 90 days": q("expensive_agents", {"tenant": TENANT, "start": day(today - dt.timedelta(days=89)),
                                                      "end": day(today + dt.timedelta(days=1)), "top_n": 10,
                                                      "rollup_files": no_rollups}),
        "errors in the last 24 h": page(q, {"tenant": TENANT, "start": now - dt.timedelta(hours=24), "end": now,
                                            "status": "Failed", **filters}, "time"),
        "tenant totals": q("tenant_totals", {"tenant": TENANT, "day_start": day_start,
                                             "now_excl": now + dt.timedelta(microseconds=1)}),
        "invocations page (cost sort, 7 days)": page(q, {
            "tenant": TENANT, "start": day(today - dt.timedelta(days=6)), "end": day(today + dt.timedelta(days=1)),
            "status": None, **filters}, "cost"),
        "trace": lambda: (con.execute(sqlfiles.load("trace_invocation"), {"inv_files": [], "tenant": TENANT,
                                                                          "invocation_id": iid}).fetchall(),
                          con.execute(sqlfiles.load("trace_rounds"), {"round_files": [], "tenant": TENANT,
                                                                      "invocation_id": iid}).fetchall()),
    }


def page(q, params: dict, sort: str):
    """The list query and its count, as ``Warehouse.invocations`` runs them."""
    where = sqlfiles.load("invocation_filter")
    rows_q = q("invocations", {**params, "limit": 50, "offset": 0}, order_by=SORTS[sort], filter=where,
               columns=sqlfiles.load("invocation_columns"))
    count_q = q("invocations_count", params, filter=where)
    return lambda: (rows_q(), count_q())


def fragment_copy(src: str, dst: str, fragments: int, today: dt.date) -> None:
    for table in ("invocations", "rounds"):
        base = os.path.join(src, tenant_path(table, TENANT))
        for name in sorted(os.listdir(base)):
            day = dt.date.fromisoformat(name[5:])
            out = os.path.join(dst, tenant_path(table, TENANT), name)
            os.makedirs(out, exist_ok=True)
            files = [os.path.join(base, name, f) for f in os.listdir(os.path.join(base, name))]
            parts = [f for f in files if not os.path.basename(f).startswith("_")]
            if (today - day).days >= 30:
                for f in files:
                    shutil.copy(f, out)
                continue
            t = pa.concat_tables([pq.read_table(f) for f in parts])
            step = -(-t.num_rows // fragments)
            for k in range(fragments):
                with open(os.path.join(out, f"{k:05d}-frag.parquet"), "wb") as fh:
                    fh.write(parquet_bytes(t.slice(k * step, step)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lake", required=True)
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--fragments", type=int, default=50)
    args = ap.parse_args()
    today = dt.datetime.now(dt.UTC).date()
    t0 = time.perf_counter()
    # The lake as maintenance leaves it: compacted, with rollups (idempotent). In a process of its
    # own, as in production, so that the peak memory below is the query process's.
    subprocess.run([sys.executable, "-m", "warehouse", "--lake", args.lake, "compact", "--tenant", TENANT,
                    "--before", today.isoformat()], check=True)
    print(f"python -m warehouse compact --tenant {TENANT}: {time.perf_counter() - t0:.1f} s")
    wh = Warehouse(args.lake, refresh_interval=3600)
    iid = wh.invocations(TENANT, today - dt.timedelta(days=3), today, limit=1)[0]["invocation_id"][0]
    rows = {}
    for name, fn in workload(wh, today, iid).items():
        rows[name] = [timed(fn, args.runs)]
    mem_after_lake = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for name, fn in native(args.lake, today, iid).items():
        rows[name].append(timed(fn, args.runs))
    frag = tempfile.mkdtemp(prefix="invlog-frag-")
    fragment_copy(args.lake, frag, args.fragments, today)
    wf = Warehouse(frag, refresh_interval=3600)
    for name, fn in workload(wf, today, iid).items():
        rows[name].append(timed(fn, args.runs))
    t0 = time.perf_counter()
    maint.compact(Lake(frag), tenant=TENANT, before=today + dt.timedelta(days=1), grace_seconds=0)
    compact_s = time.perf_counter() - t0
    wc = Warehouse(frag, refresh_interval=3600)
    for name, fn in workload(wc, today, iid).items():
        rows[name].append(timed(fn, args.runs))
    n_inv, _, _ = wh.index.files("invocations", TENANT)
    total = sum(wh.index.files("invocations", t)[2] for t in wh.tenants())
    print(f"Warehouse query latency (median of {args.runs} warm runs, ms) for {TENANT} "
          f"({wh.index.files('invocations', TENANT)[2]:,} of {total:,} invocations in the lake)")
    print(f"{'query':40} {'compacted':>10} {'native':>8} {'ratio':>6} {'fragmented':>11} {'re-compacted':>13}"
          f" {'vs compacted':>13}")
    for name, (lake_ms, native_ms, frag_ms, recompacted_ms) in rows.items():
        print(f"{name:40} {lake_ms:10.1f} {native_ms:8.1f} {lake_ms / native_ms:6.2f} {frag_ms:11.1f} "
              f"{recompacted_ms:13.1f} {recompacted_ms / lake_ms:13.2f}")
    print(f"fragmented copy: last 30 days in {args.fragments} files per partition; compact took {compact_s:.1f} s")
    print(f"peak memory: {mem_after_lake:.0f} MB after the lake queries, "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB at the end (native tables included)")
    shutil.rmtree(frag, ignore_errors=True)
    del n_inv


if __name__ == "__main__":
    main()
