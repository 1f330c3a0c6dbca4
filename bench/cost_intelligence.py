"""What prompt-cache economics costs on a large tenant, against the spend report of the same period.

Warm medians over ``--runs`` of ``Warehouse.cache_economics`` (each group) and of the spend report
(the baseline: the same tenant and 30 days), on a lake from ``bench.gen_lake``. Run:
``python -m bench.cost_intelligence --lake /tmp/bench-lake-1m [--runs 3]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

from warehouse import Warehouse


def median_ms(fn, runs: int) -> float:
    fn()  # warm: files listed, plans compiled
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lake", required=True)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    wh = Warehouse(args.lake)
    tenant = max(wh.tenants(), key=lambda t: wh.index.files("invocations", t)[2])
    last = wh.index.files("invocations", tenant)
    end = dt.datetime.now(dt.UTC).date()
    df = wh.cache_economics(tenant, end - dt.timedelta(days=29), end, group_by="day")
    if df.height == 0 or not df["cache_read_tokens"].sum():
        end = dt.date(2026, 12, 1)  # the generator's default period
    start = end - dt.timedelta(days=29)
    rounds = wh.cache_economics(tenant, start, end, group_by="day")["rounds"].sum()
    print(f"tenant {tenant}: {last[2]:,} runs in the lake, {rounds:,} rounds from {start} to {end}")
    base = median_ms(lambda: wh.spend_report(tenant, start, end), args.runs)
    print(f"{'query (warm median, ms)':40} {'ms':>9}  ratio")
    print(f"{'spend report (baseline)':40} {base:9.0f}   base")
    for group in ("agent", "prompt", "model", "day"):
        ms = median_ms(lambda g=group: wh.cache_economics(tenant, start, end, group_by=g), args.runs)
        print(f"{'cache_economics group_by=' + group:40} {ms:9.0f} {ms / base:6.2f}x")
    ms = median_ms(lambda: wh.cache_breakdowns(tenant, start, end), args.runs)
    print(f"{'cache_breakdowns (all four, the page)':40} {ms:9.0f} {ms / base:6.2f}x")


if __name__ == "__main__":
    main()
