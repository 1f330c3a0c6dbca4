"""Prompt-cache economics: did caching pay off, per agent, prompt version, model or day?

Each round that read from or wrote to a provider's prompt cache is priced three ways with the
recorder's own price book (genai-prices, with the overrides file if any, at the round's instant:
the restatement machinery of ``warehouse.reprice``): as billed; with its cache writes billed as
plain input; and with its reads and writes billed as plain input. So ``savings_usd`` is what the
reads saved against uncached input, ``write_premium_usd`` what the writes cost above plain
input, ``net_usd`` their difference, and ``uncached_cost_usd`` the what-if: the recorded cost
plus the net, what the period would have cost without caching. Every amount is a ``Decimal``.

Provider usage carries no cache key, so whether a write was read back follows a stated rule
(``READ_BACK_RULE``): a write counts as read back when a later round of the same tenant, agent,
prompt name and version, and model reads from the cache within the write's TTL (5 minutes, or
1 hour for tokens written with the 1-hour TTL); ``wasted_write_tokens`` are the others. Rounds
without a known price (unknown model, missing usage, a caller's own cost that cannot be split)
are counted in ``unpriced_rounds`` and left out of the money, never counted as $0.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import polars as pl

from invlog.pricing import COLUMNS, PriceBook, check_usage, context

READ_BACK_RULE = ("a cache write counts as read back when a later round of the same tenant, agent, prompt name and "
                  "version, and model reads from the cache within the write's TTL (5 minutes; 1 hour for 1-hour "
                  "writes)")
TTL_5M_US = 5 * 60 * 1_000_000
TTL_1H_US = 60 * 60 * 1_000_000
GROUPS = {"agent": ["agent"], "prompt": ["prompt_name", "prompt_version"], "model": ["model"], "day": ["day"]}
_COST = pl.Decimal(38, 12)
_KEYS = ["agent", "prompt_name", "prompt_version", "model"]


def _picos(book: PriceBook, tenant: str, r: dict[str, Any], usage: dict[str, int]) -> int | None:
    cols, other, shape = check_usage(usage)
    picos, _, _ = book.price(tenant, r["provider"], r["model"], context(r["service_tier"], r["batch"]),
                             r["started_us"], cols, other, shape)
    return picos


def price_rounds(rounds: pl.DataFrame, tenant: str, book: PriceBook) -> pl.DataFrame:
    """``rounds`` (the ``cache_rounds`` query) with ``savings_usd``, ``write_premium_usd`` and ``net_usd``
    per round (zero for rounds without cache activity, null where the round cannot be priced) and
    ``priced``."""
    savings: list[Decimal | None] = []
    premium: list[Decimal | None] = []
    priced: list[bool] = []
    zero = Decimal(0)
    for r in rounds.iter_rows(named=True):
        ok = not r["unpriced"] and r["recorded_cost_usd"] is not None
        if not (r["cache_read_tokens"] or r["cache_write_tokens"]):
            savings.append(zero if ok else None)
            premium.append(zero if ok else None)
            priced.append(ok)
            continue
        usage = {c: int(r[c] or 0) for c in COLUMNS if r[c]}
        if r["other_usage"]:
            usage.update(orjson.loads(r["other_usage"]))
        no_writes = {**usage, "cache_write_tokens": 0, "cache_write_5m_tokens": 0, "cache_write_1h_tokens": 0}
        uncached = {**no_writes, "cache_read_tokens": 0}
        billed = _picos(book, tenant, r, usage) if ok and r["price_source"] != "caller" else None
        p_nw = _picos(book, tenant, r, no_writes) if billed is not None else None
        p_un = _picos(book, tenant, r, uncached) if p_nw is not None else None
        if billed is None or p_nw is None or p_un is None:
            savings.append(None)
            premium.append(None)
            priced.append(False)
            continue
        savings.append(Decimal(p_un - p_nw).scaleb(-12))
        premium.append(Decimal(billed - p_nw).scaleb(-12))
        priced.append(True)
    return rounds.with_columns(pl.Series("savings_usd", savings, dtype=_COST),
                               pl.Series("write_premium_usd", premium, dtype=_COST),
                               pl.Series("priced", priced, dtype=pl.Boolean)).with_columns(
        (pl.col("savings_usd") - pl.col("write_premium_usd")).alias("net_usd"))


def wasted_writes(rounds: pl.DataFrame) -> pl.DataFrame:
    """``rounds`` with ``wasted_write_tokens``: the write tokens not read back by ``READ_BACK_RULE``."""
    keyed = rounds.with_row_index("_row")
    reads = (keyed.filter(pl.col("cache_read_tokens") > 0)
             .select(*_KEYS, pl.col("started_us").alias("_read_us")).sort("_read_us"))
    writes = (keyed.filter(pl.col("cache_write_tokens") > 0)
              .select("_row", *_KEYS, (pl.col("started_us") + 1).alias("_after_us"), "cache_write_tokens",
                      "cache_write_1h_tokens").sort("_after_us"))
    if writes.height == 0:
        return rounds.with_columns(pl.lit(0, pl.Int64).alias("wasted_write_tokens"))
    nxt = writes.join_asof(reads, left_on="_after_us", right_on="_read_us", by=_KEYS, strategy="forward")
    gap = pl.col("_read_us") - (pl.col("_after_us") - 1)
    one_hour = pl.col("cache_write_1h_tokens").clip(0, pl.col("cache_write_tokens"))
    five_min = pl.col("cache_write_tokens") - one_hour
    nxt = nxt.select("_row", (
        pl.when(pl.col("_read_us").is_null() | (gap > TTL_5M_US)).then(five_min).otherwise(0)
        + pl.when(pl.col("_read_us").is_null() | (gap > TTL_1H_US)).then(one_hour).otherwise(0)
    ).cast(pl.Int64).alias("wasted_write_tokens"))
    return keyed.join(nxt, on="_row", how="left").with_columns(
        pl.col("wasted_write_tokens").fill_null(0)).drop("_row")


def economics(active: pl.DataFrame, totals: pl.DataFrame, tenant: str, book: PriceBook,
              group_by: str) -> pl.DataFrame:
    """Per group: ``totals`` (the ``cache_totals`` query: every round of the period) with the cache
    figures of ``active`` (the ``cache_rounds`` query: the rounds with cache activity, plus the TTL's
    lookahead) added; the what-if is the recorded cost plus the net."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by: expected one of {', '.join(GROUPS)}, got {group_by!r}")
    keys = GROUPS[group_by]
    df = price_rounds(wasted_writes(active), tenant, book).filter(pl.col("in_period"))
    money = pl.col("priced")
    cache = df.group_by(keys).agg(
        pl.col("cache_read_tokens").sum().cast(pl.Int64),
        pl.col("cache_write_tokens").sum().cast(pl.Int64),
        pl.col("wasted_write_tokens").sum().cast(pl.Int64),
        pl.col("savings_usd").filter(money).sum().cast(_COST),
        pl.col("write_premium_usd").filter(money).sum().cast(_COST),
        pl.col("net_usd").filter(money).sum().cast(_COST))
    base = totals.group_by(keys).agg(pl.col("rounds").sum().cast(pl.Int64),
                                     pl.col("unpriced_rounds").sum().cast(pl.Int64),
                                     pl.col("input_tokens").sum().cast(pl.Int64),
                                     pl.col("cost_usd").sum().cast(_COST))
    zero = pl.lit(Decimal(0)).cast(_COST)
    out = (base.join(cache, on=keys, how="left")
           .with_columns(pl.col("cache_read_tokens", "cache_write_tokens", "wasted_write_tokens").fill_null(0),
                         pl.col("savings_usd", "write_premium_usd", "net_usd").fill_null(zero))
           .with_columns((pl.col("cost_usd") + pl.col("net_usd")).alias("uncached_cost_usd"),
                         pl.when(pl.col("input_tokens") > 0)
                         .then(pl.col("cache_read_tokens") / pl.col("input_tokens")).alias("cache_read_share"))
           .sort(keys if group_by == "day" else ["net_usd", *keys], descending=group_by != "day"))
    return out.select(*keys, "rounds", "unpriced_rounds", "input_tokens", "cache_read_tokens", "cache_read_share",
                      "cache_write_tokens", "wasted_write_tokens", "savings_usd", "write_premium_usd", "net_usd",
                      "cost_usd", "uncached_cost_usd")
