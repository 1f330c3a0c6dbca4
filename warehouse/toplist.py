"""Top lists: the first rows of the invocation list of a part, in every sort order.

The Invocations page shows 50 runs of a tenant's last days sorted by time, cost,
latency or tokens; without filters, reading every row of every day to find them
costs 4-5x a native table (decoding a dozen text columns of every row). For each
compacted (or large) invocations part ``X``, maintenance writes ``_top1-X`` beside
its rollup: the list columns of the part's first ``K`` rows in each order of
``SORTS`` (ties broken on the id). The global first N rows over
whole days are among the union of the parts' first N, so a page ending within
``K`` reads the top lists (and the parts without one) and is exact; any filter, a
partial day or a deeper page reads the rows. Like a rollup, a top list is used
only while its part is live.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from invlog.lake.files import parquet_bytes
from warehouse import sqlfiles

# The list's sort orders (a whitelist: these strings are the only text put into the SQL).
SORTS = {"time": "started_at desc", "cost": "cost_usd desc nulls last", "latency": "latency_ms desc",
         "tokens": "(input_tokens + output_tokens) desc", "oldest": "started_at asc"}
PREFIX = "_top1-"
K = 1000  # rows per sort order: 20 pages of 50


def toplist_name(part: str) -> str:
    return f"{PREFIX}{part}"


def sql() -> str:
    """The build query; its slots come from the sort whitelist only."""
    sorts = SORTS
    names = [f"r{i}" for i in range(len(sorts))]
    ranks = ", ".join(f"row_number() over (order by {order}, invocation_id desc) as {n}"
                      for n, order in zip(names, sorts.values(), strict=True))
    return sqlfiles.render("toplist_build", columns=sqlfiles.load("invocation_columns"),
                           ranks=ranks, rank_names=", ".join(names), keep=" or ".join(f"{n} <= $k" for n in names))


def build(part: pa.Table) -> bytes:
    """The top list of one invocations part, as Parquet bytes."""
    con = duckdb.connect(config={"threads": 1, "memory_limit": "256MB"})
    try:
        con.execute("set TimeZone = 'UTC'")
        con.register("part", part)
        table = con.sql(sql(), params={"k": K}).to_arrow_table()
    finally:
        con.close()
    return parquet_bytes(table)
