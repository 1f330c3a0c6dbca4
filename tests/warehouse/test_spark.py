"""The spend report and the cost trend on Spark (local mode) equal DuckDB's, field by field.

The lake is written through the recorder: tenants ``acme``, ``12`` and ``012`` (one folder name a
prefix-trap of the other), several days, several agents, models, users and triggers, unpriced
runs (a model without a price) and compacted days (where DuckDB reads rollups and Spark the
merged files). Spark needs Java; `make test` installs it (openjdk-17-jre-headless).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import polars as pl
import pytest

from recorder.clock import SimClock
from warehouse import Warehouse
from warehouse import compact as maint
from warehouse.core import GRAINS, SPLITS

pytestmark = pytest.mark.slow
UTC = dt.UTC
DAY0 = dt.datetime(2026, 11, 16, tzinfo=UTC)  # a Monday: the week grain has whole and partial weeks
AGENTS = ["support-bot", "etl", "router"]
MODELS = [("openai", "gpt-4o"), ("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4-5"),
          ("selfhosted", "acme-llm-7b")]  # the last has no price: unpriced runs
USERS = [None, "u1", "u2", "u3"]


@pytest.fixture(scope="module")
def spark():
    from warehouse.spark import session

    s = session("local[2]")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    from recorder import Recorder

    root = tmp_path_factory.mktemp("spark")
    rec = Recorder(lake=str(root / "lake"), spool_dir=str(root / "spool"))
    rng = random.Random(7)
    for tenant, n in (("acme", 160), ("12", 60), ("012", 40)):
        for k in range(n):
            when = DAY0 + dt.timedelta(days=rng.randrange(9), seconds=rng.randrange(86_400),
                                       microseconds=rng.randrange(10**6))
            provider, model = rng.choice(MODELS)
            clock = SimClock(when)
            try:
                with rec.invocation(tenant=tenant, agent=rng.choice(AGENTS), provider=provider, model=model,
                                    trigger=rng.choice(["user", "system", "task"]), user_id=rng.choice(USERS),
                                    clock=clock) as inv:
                    for _ in range(rng.randrange(1, 4)):
                        with inv.round([{"role": "user", "content": "hi"}]) as r:
                            clock.advance(rng.random())
                            tin = rng.randrange(10, 20_000)
                            r.set_response("ok", usage={"input_tokens": tin, "output_tokens": rng.randrange(0, 900),
                                                        "cache_read_tokens": rng.randrange(0, tin // 2 + 1)})
                    if k % 17 == 0:
                        raise RuntimeError("boom")
            except RuntimeError:
                pass
            if k % 25 == 0:
                assert rec.flush()  # several part files a day: compaction has something to merge
    rec.shutdown(timeout=30)  # commits: Spark reads what the Delta log lists
    res = maint.compact(rec.lake, before=DAY0.date() + dt.timedelta(days=4), grace_seconds=0)
    assert res.files_merged > 0 and res.rollups_written > 0  # compacted days, with rollups for DuckDB
    return rec.lake


@pytest.fixture(scope="module")
def both(lake, spark):
    return Warehouse(lake, refresh_interval=0), Warehouse(lake, engine="spark", spark=spark)


def _equal(duck: pl.DataFrame, spark: pl.DataFrame) -> None:
    assert spark.columns == duck.columns
    assert spark.dtypes == duck.dtypes
    assert spark.rows() == duck.rows()


# A range that starts and ends inside a day (partial days read raw rows on both engines, whole days
# of compacted partitions read rollups on DuckDB) and covers days before and after the compaction.
START, END = DAY0 + dt.timedelta(hours=5, minutes=7), DAY0 + dt.timedelta(days=8, hours=20)


@pytest.mark.parametrize("grain", sorted(GRAINS))
@pytest.mark.parametrize("split", [k for k in SPLITS if k] + [None])
def test_cost_trend_on_spark_equals_duckdb_for_every_grain_and_split(both, grain, split):
    duck, spark = both
    for tenant in ("12", "012") if grain == "day" else ("12",):
        d = duck.cost_trend(tenant, START, END, grain=grain, split_by=split)
        assert d.height > 0 and d["runs"].sum() > 0
        _equal(d, spark.cost_trend(tenant, START, END, grain=grain, split_by=split))


def test_trend_over_whole_days_uses_rollups_on_duckdb_and_raw_rows_on_spark_to_the_same_decimals(both):
    duck, spark = both
    d = duck.cost_trend("acme", DAY0.date(), DAY0.date() + dt.timedelta(days=8), split_by="model")
    _equal(d, spark.cost_trend("acme", DAY0.date(), DAY0.date() + dt.timedelta(days=8), split_by="model"))
    unpriced = d.filter(pl.col("split") == "acme-llm-7b")
    assert unpriced["unpriced_runs"].sum() == unpriced["runs"].sum() > 0
    assert unpriced.filter(pl.col("runs") > 0)["cost_usd"].null_count() == unpriced.filter(pl.col("runs") > 0).height


@pytest.mark.parametrize("tenant", ["acme", "12", "012"])
def test_spend_report_on_spark_equals_duckdb_field_by_field(both, tenant):
    duck, spark = both
    now = DAY0 + dt.timedelta(days=8, hours=12)
    d = duck.spend_report(tenant, START, END, now=now)
    s = spark.spend_report(tenant, START, END, now=now)
    assert d.runs > 0 and d.unpriced_runs > 0 and d.unpriced.height > 0
    assert isinstance(s.total_cost_usd, Decimal) and s.total_cost_usd == d.total_cost_usd
    assert (s.runs, s.unpriced_runs, s.month_to_date_usd, s.projected_month_usd, s.notes) == (
        d.runs, d.unpriced_runs, d.month_to_date_usd, d.projected_month_usd, d.notes)
    for name in ("by_agent", "by_model", "by_user", "by_day", "unpriced"):
        _equal(getattr(d, name), getattr(s, name))


def test_a_tenants_query_on_spark_reads_only_that_tenants_partitions(both, lake):
    duck, spark = both
    assert duck.index.files("invocations", "012")[0]  # the trap is there to fall into
    for table, query in (("rounds", lambda: spark.spend_report("12", START, END)),  # its last query: unpriced
                         ("invocations", lambda: spark.cost_trend("12", START, END, split_by="user"))):
        query()
        read = spark.spark.last_read
        assert read and all(f.startswith(f"file://{lake.path(table)}/tenant=12/date=") for f in read), read
        live = duck.index.files(table, "12")[0]  # the live files, as DuckDB sees them
        tail = "/tenant=12/"
        assert sorted(f.split(tail)[1] for f in read) == sorted(p.split(tail)[1] for p in live)  # each once
    spark.cost_trend("12", DAY0.date(), DAY0.date())  # a date range reads only its days' partitions
    assert {f.split("/date=")[1][:10] for f in spark.spark.last_read} == {DAY0.date().isoformat()}


def test_what_spark_does_not_run_says_so(both):
    from warehouse.spark import SparkEngineError

    _, spark = both
    with pytest.raises(SparkEngineError, match="runs on DuckDB only"):
        spark.tenant_totals("acme")
    with pytest.raises(ValueError, match="restated"):
        spark.spend_report("acme", START, END, restated=True)
    with pytest.raises(ValueError, match="spark=<SparkSession>"):
        Warehouse(spark.lake, engine="spark")


def test_the_queries_are_transpiled_from_the_one_sql_definition():
    from warehouse import sqlfiles
    from warehouse.spark import transpile

    text, sources = transpile(sqlfiles.render("cost_trend", split="agent", splits="select distinct split from src",
                                              rollup_split="key"))
    assert sources == ("inv_files", "rollup_files")
    assert "unix_micros(" in text.lower() and "{inv_files}" in text and ":tenant" in text
    assert "epoch_us" not in text.lower() and "$" not in text


def test_the_report_command_on_spark_writes_the_same_report_as_on_duckdb(lake, tmp_path):
    import subprocess
    import sys

    out = {}
    for engine in ("duckdb", "spark"):
        path = tmp_path / f"{engine}.csv"
        cmd = [sys.executable, "-m", "warehouse", "report", "--lake", lake.url, "--tenant", "012",
               "--from", "2026-11-16", "--to", "2026-11-24", "--out", str(path), "--engine", engine]
        if engine == "spark":
            cmd += ["--spark-master", "local[1]"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=240)
        assert done.returncode == 0, done.stderr[-2000:]
        assert ("(on Spark)" in done.stdout) == (engine == "spark")
        out[engine] = path.read_bytes()
    assert out["spark"] == out["duckdb"] and out["duckdb"].count(b"\n") > 10
    bad = subprocess.run([sys.executable, "-m", "warehouse", "report", "--lake", lake.url, "--tenant", "012",
                          "--from", "2026-11-16", "--to", "2026-11-24", "--out", str(tmp_path / "r.csv"),
                          "--engine", "spark", "--restated"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "DuckDB only" in bad.stderr
