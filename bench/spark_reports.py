"""The spend report and the cost trend of the largest tenant on Spark (local mode) and on DuckDB, in one run.

``python -m bench.spark_reports --lake /tmp/bench-lake --small-lake /tmp/bench-lake-1m [--runs 3]
[--master local[2]]``

Generate the lakes first (``python -m bench.gen_lake --out /tmp/bench-lake`` for 10 million
invocations, ``--invocations 1000000 --out /tmp/bench-lake-1m`` for 1 million; same tenants and
90 days, so the largest tenant is ten times larger in the first). For ``tenant-00`` over its 90
days: the spend report (totals, the four breakdowns, unpriced usage: six queries) and the
30-day daily cost trend by agent, as the median of ``--runs`` warm runs on each engine; the
ratio Spark / DuckDB (DuckDB is the baseline, in the same process), how each engine's time grows
from the small lake to the large one, and a check that both engines return the same report.
Spark runs in local mode on this machine's cores; a cluster spreads the same scans over its
executors.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

from warehouse import Warehouse
from warehouse.spark import session

TENANT = "tenant-00"


def timed(fn, runs: int) -> float:
    fn()  # warm: the JVM's code, the file footers, DuckDB's caches
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def measure(lake: str, spark, runs: int) -> dict[str, object]:
    duck = Warehouse(lake, refresh_interval=3600)
    on_spark = Warehouse(lake, engine="spark", spark=spark)
    days = sorted(p for p in duck.index.tenant(TENANT).parts if p[0] == "invocations")
    start, end = days[0][1], days[-1][1]
    month = end - dt.timedelta(days=29)
    now = dt.datetime.combine(end, dt.time(12), dt.UTC)
    d, s = duck.spend_report(TENANT, start, end, now=now), on_spark.spend_report(TENANT, start, end, now=now)
    same = (d.total_cost_usd, d.runs, d.by_agent.rows(), d.by_day.rows()) == (
        s.total_cost_usd, s.runs, s.by_agent.rows(), s.by_day.rows())
    out: dict[str, object] = {"runs": d.runs, "same": same, "days": (start, end)}
    for engine, wh in (("duckdb", duck), ("spark", on_spark)):
        out[f"report/{engine}"] = timed(lambda wh=wh: wh.spend_report(TENANT, start, end, now=now), runs)
        out[f"trend/{engine}"] = timed(lambda wh=wh: wh.cost_trend(TENANT, month, end, split_by="agent"), runs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lake", required=True, help="the 10M lake")
    ap.add_argument("--small-lake", required=True, help="the 1M lake")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    args = ap.parse_args()
    t0 = time.perf_counter()
    spark = session(args.master)
    print(f"Spark {spark.version} session ({args.master}) started in {time.perf_counter() - t0:.1f} s")
    try:
        small = measure(args.small_lake, spark, args.runs)
        large = measure(args.lake, spark, args.runs)
    finally:
        spark.stop()
    print(f"\n{TENANT}, median of {args.runs} warm runs (ms); ratio = Spark / DuckDB (the baseline, same run)")
    print(f"{'lake':>6} {'tenant runs':>12} {'query':28} {'DuckDB':>9} {'Spark':>9} {'ratio':>7} {'equal':>6}")
    for label, m in (("1M", small), ("10M", large)):
        for q, name in (("report", "spend report (90 days)"), ("trend", "cost trend (30 days, agent)")):
            dk, sp = m[f"{q}/duckdb"], m[f"{q}/spark"]
            print(f"{label:>6} {m['runs']:>12,} {name:28} {dk:9.0f} {sp:9.0f} {sp / dk:7.1f} {m['same']!s:>6}")
    print(f"\ngrowth from 1M to 10M ({large['runs'] / small['runs']:.1f}x the tenant's runs):")
    for q in ("report", "trend"):
        print(f"  {q:7} DuckDB {large[f'{q}/duckdb'] / small[f'{q}/duckdb']:5.1f}x   "
              f"Spark {large[f'{q}/spark'] / small[f'{q}/spark']:5.1f}x")


if __name__ == "__main__":
    main()
