"""Rollups: the trend and top agents read from rollups equal what the raw rows give.

A lake of ~1,500 invocations over three days (random agents, models, users,
triggers, statuses, latencies and token counts, an unpriced model) written through
the recorder in many small parts; every query is run before compaction (raw rows
only: small parts get no rollup) and after (whole days from rollups), and must
give the same frames, to the last decimal. Quantiles are also checked against the
exact nearest-rank quantiles computed here from the rows.
"""

import datetime as dt
import math
import random

import duckdb
import pytest
from polars.testing import assert_frame_equal

from tests.support.records import record_inv
from warehouse import Warehouse
from warehouse import compact as maint

UTC = dt.UTC
DAY0 = dt.date(2026, 11, 20)
AGENTS = ("support", "research", "etl", "router")
MODELS = ("gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet-latest", "acme-llm-7b")  # the last has no price


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    from recorder import Recorder

    path = str(tmp_path_factory.mktemp("rollups") / "lake")
    rec = Recorder(lake=path)
    rnd = random.Random(7)
    for k in range(1500):
        day = DAY0 + dt.timedelta(days=k % 3)
        when = dt.datetime.combine(day, dt.time(), UTC) + dt.timedelta(seconds=rnd.randrange(86_400))
        model = rnd.choice(MODELS)
        rounds = [{"input_tokens": rnd.randrange(50, 5000), "output_tokens": rnd.randrange(0, 800)}
                  for _ in range(rnd.randrange(1, 4))]
        record_inv(rec, "acme", when, rnd.choice(AGENTS), model, rounds, trigger=rnd.choice(("user", "system", "task")),
             user=rnd.choice([None, *(f"u{i}" for i in range(30))]),
             status=rnd.choice([None] * 8 + ["Failed", "Timeout"]),
             provider="selfhosted" if model == "acme-llm-7b" else "openai")
        if k % 100 == 99:
            assert rec.flush()  # one part per flush: many small parts per day
    assert rec.flush()
    rec.shutdown()
    return path


QUERIES = [(grain, split) for grain in ("hour", "day", "week", "month")
           for split in (None, "agent", "model", "provider", "user", "trigger")]
RANGES = [
    (DAY0, DAY0 + dt.timedelta(days=3)),  # whole days: all from rollups
    (dt.datetime(2026, 11, 20, 6, 30, tzinfo=UTC), dt.datetime(2026, 11, 22, 18, tzinfo=UTC)),  # partial edges
]


def _answers(path):
    wh = Warehouse(path, refresh_interval=0)
    out = {}
    for start, end in RANGES:
        for grain, split in QUERIES:
            out[(start, grain, split)] = wh.cost_trend("acme", start, end, grain=grain, split_by=split)
        out[(start, "agents")] = wh.expensive_agents("acme", start, end)
    return out


def test_rollups_answer_exactly_what_the_rows_answer(lakes):
    before = _answers(lakes)
    res = maint.compact(Warehouse(lakes).lake, tenant="acme", before=DAY0 + dt.timedelta(days=3))
    assert res.rollups_written == 3 and res.files_merged > 40  # one merged invocations file per day
    wh = Warehouse(lakes, refresh_interval=0)
    _, rollups, _, _ = wh.index.files_with_rollups("invocations", "acme", DAY0, DAY0 + dt.timedelta(days=2),
                                                   (DAY0, DAY0 + dt.timedelta(days=2)))
    assert len(rollups) == 3  # the queries below really read rollups
    after = _answers(lakes)
    for key, frame in before.items():
        assert_frame_equal(after[key], frame, check_exact=True)
    agents = after[(DAY0, "agents")]
    assert agents["runs"].sum() == 1500 and agents["unpriced_runs"].sum() > 0
    assert agents["total_cost_usd"].null_count() == 0  # every agent has priced runs too


def _nearest_rank(values, q):
    values = sorted(values)
    return values[max(1, math.ceil(q * len(values))) - 1]


def test_quantiles_are_within_one_percent_of_the_exact_ones(lakes):
    wh = Warehouse(lakes, refresh_interval=0)
    maint.compact(wh.lake, tenant="acme", before=DAY0 + dt.timedelta(days=3))
    rows = duckdb.sql(f"select agent, cost_usd::double, latency_ms from read_parquet("
                      f"'{lakes}/invocations/tenant=acme/*/[!_]*.parquet')").fetchall()
    got = wh.expensive_agents("acme", DAY0, DAY0 + dt.timedelta(days=3))
    assert got.height == len(AGENTS)
    for row in got.iter_rows(named=True):
        costs = [c for a, c, _ in rows if a == row["agent"] and c is not None]
        latencies = [lat for a, _, lat in rows if a == row["agent"]]
        assert float(row["p95_cost_usd"]) == pytest.approx(_nearest_rank(costs, 0.95), rel=0.01)
        assert row["p50_latency_ms"] == pytest.approx(_nearest_rank(latencies, 0.5), rel=0.01)
        assert row["p95_latency_ms"] == pytest.approx(_nearest_rank(latencies, 0.95), rel=0.01)
