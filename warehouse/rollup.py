"""Rollups: small per-part summaries that let long-range queries skip the raw rows.

A 90-day question over a busy tenant reads millions of rows; the dashboard's cost
trend and top agents only need sums per hour and per agent, and quantiles. For
each compacted (or large) invocations part file ``X``, maintenance writes
``_rollup1-X`` in the partition's side folder (``_meta/parts/invocations/tenant=/date=``,
outside the data folders): exact sums (runs, priced and unpriced runs, errors,
cost, tokens) per hour and agent, model, provider or trigger (per day and user),
and per agent a log-bucketed sketch of cost per run and latency (DDSketch with 1%
relative accuracy, mergeable by adding counts). Part files are immutable, so a
rollup is valid exactly while its part is live: the index pairs them, a query
uses a rollup only for a whole day inside its range and only if the part is live,
and anything else (today's fresh parts, a missing or unreadable rollup, a
quarantined part) is read raw. Nothing here can make a total wrong, only slower.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from invlog.lake import empty_table
from invlog.lake.files import parquet_bytes
from warehouse import sqlfiles

PREFIX = "_rollup1-"
# Parts smaller than this are not worth a rollup unless compaction produced them.
MIN_ROWS = 16_384
SCHEMA = pa.schema([
    ("kind", pa.string()), ("dim", pa.string()), ("key", pa.string()), ("t_us", pa.int64()),
    ("metric", pa.string()), ("bucket", pa.int32()), ("runs", pa.int64()), ("priced_runs", pa.int64()),
    ("unpriced_runs", pa.int64()), ("errors", pa.int64()), ("cost_usd", pa.decimal128(38, 12)),
    ("input_tokens", pa.int64()), ("output_tokens", pa.int64()), ("cache_read_tokens", pa.int64()),
    ("n", pa.int64()), ("vmin", pa.float64()), ("vmax", pa.float64()),
])
# gamma = (1 + a) / (1 - a) with a = 1%: every value in bucket i lies within 1% of the bucket's
# representative 2 gamma^i / (gamma + 1). Zero (a free run) has a bucket of its own.
MACROS = (
    "create or replace macro sketch_bucket(v) as "
    "case when v <= 0 then -32768 else ceil(ln(v) / ln(1.01 / 0.99))::integer end",
    "create or replace macro sketch_value(b) as "
    "case when b = -32768 then 0.0 else exp(b * ln(1.01 / 0.99)) * 2 / (1.01 / 0.99 + 1) end",
)


def rollup_name(part: str) -> str:
    return f"{PREFIX}{part}"


def wanted(part: str, rows: int) -> bool:
    """Whether a part deserves a rollup: a compaction output or a large file."""
    return part.startswith("c-") or rows >= MIN_ROWS


def build(part: pa.Table) -> bytes:
    """The rollup file of one invocations part (as Parquet bytes)."""
    con = duckdb.connect(config={"threads": 1, "memory_limit": "256MB"})
    try:
        con.execute("set TimeZone = 'UTC'")
        for macro in MACROS:
            con.execute(macro)
        con.register("part", part)
        table = con.sql(sqlfiles.load("rollup_build")).to_arrow_table().cast(SCHEMA)
    finally:
        con.close()
    return parquet_bytes(table)


def empty() -> pa.Table:
    return empty_table(SCHEMA)
