"""Every benchmark in bench/ still runs: each script once with tiny arguments, its table printed.

No figure is checked (speed is read from the scripts' own tables, never asserted in tests); this
guards the scripts themselves, which run the warehouse's SQL files with their own parameters and
drive the recorder, the OTLP receiver and the Delta log: a change there that breaks a benchmark
fails here, not on the next person who measures. The dashboard and Spark benchmarks need a browser
and a 10M lake, or a JVM, and are left out.
"""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def bench(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def small_lake(tmp_path_factory):
    lake = str(tmp_path_factory.mktemp("bench") / "lake")
    out = bench("bench.gen_lake", "--out", lake, "--invocations", "3000", "--tenants", "2", "--days", "3")
    assert "wrote " in out and " invocations" in out
    return lake


def test_warehouse_queries_runs_every_query_on_the_lake_and_natively(small_lake):
    out = bench("bench.warehouse_queries", "--lake", small_lake, "--runs", "1", "--fragments", "2")
    for query in ("cost trend, 30 days by agent", "top agents, 90 days", "errors in the last 24 h", "tenant totals",
                  "invocations page (cost sort, 7 days)", "trace"):
        assert query in out
    assert "peak memory" in out


def test_cost_intelligence_runs(small_lake):
    assert "cache_economics group_by=day" in bench("bench.cost_intelligence", "--lake", small_lake, "--runs", "1")


@pytest.mark.parametrize("args, printed", [
    (("bench.record_overhead", "--n", "300"), "ratio (ours / OTel)"),
    (("bench.write_throughput", "--invocations", "300", "--warmup", "50"), "ratio to baseline"),
    (("bench.delta_commits", "--seconds", "2", "--writers", "2"), "commits/s"),
    (("bench.otlp_ingest", "--requests", "3", "--traces", "4", "--clients", "1"),
     "invocations recorded 12 (expected 12)"),
    (("bench.budget_check", "--n", "200"), "enforced budget in scope"),
], ids=lambda v: v[0] if isinstance(v, tuple) else "")
def test_benchmark_runs_and_prints_its_table(args, printed):
    assert printed in bench(*args)
