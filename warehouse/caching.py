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

from invlog.pricing import COLUMNS, PriceBook, context
from invlog.pricing.usage import shape_of

READ_BACK_RULE = ("a cache write counts as read back when a later round of the same tenant, agent, prompt name and "
                  "version, and model reads from the cache within the write's TTL (5 minutes; 1 hour for 1-hour "
                  "writes)")
TTL_5M_US = 5 * 60 * 1_000_000
TTL_1H_US = 60 * 60 * 1_000_000
GROUPS = {"agent": ["agent"], "prompt": ["prompt_name", "prompt_version"], "model": ["model"], "day": ["day"]}
_COST = pl.Decimal(38, 12)
_KEYS = ["agent", "prompt_name", "prompt_version", "model"]
_US_PER_DAY = 86_400_000_000
_I_CR, _I_CW, _I_W5, _I_W1 = (COLUMNS.index(c) for c in ("cache_read_tokens", "cache_write_tokens",
                                                         "cache_write_5m_tokens", "cache_write_1h_tokens"))


def _three_prices(plan: Any, billed: list[int], other: str | None) -> tuple[int | None, int | None]:
    """(savings, premium) in picodollars of one usage under one plan: billed, writes as plain input, and
    reads and writes as plain input."""
    extra = orjson.loads(other) if other else None
    no_writes = list(billed)
    no_writes[_I_CW] = no_writes[_I_W5] = no_writes[_I_W1] = 0
    uncached = list(no_writes)
    uncached[_I_CR] = 0
    p = [plan.cost(tuple(u), extra, shape_of(u, extra))[0] for u in (billed, no_writes, uncached)]
    if p[0] is None or p[1] is None or p[2] is None:
        return None, None
    return p[2] - p[1], p[0] - p[1]


def price_rounds(rounds: pl.DataFrame, tenant: str, book: PriceBook) -> pl.DataFrame:
    """``rounds`` (the ``cache_rounds`` query) with ``savings_usd``, ``write_premium_usd`` and ``net_usd``
    per round (null where the round cannot be priced: no price, or a caller's own cost that cannot be
    split) and ``priced``.

    Each distinct usage is priced once per set of prices: the plan in force is looked up per model, tier
    and day, days whose plans have the same prices share them, and only a model with time-of-day prices
    is priced round by round. The lake's usage columns were validated when recorded, so they go to the
    plan as they are."""
    df = rounds.with_row_index("_row").with_columns((pl.col("started_us") // _US_PER_DAY).alias("_day"),
                                                    pl.col(list(COLUMNS)).fill_null(0),
                                                    pl.col("other_usage").fill_null("").alias("_other"))
    ok = df.filter(~pl.col("unpriced").fill_null(True) & (pl.col("price_source").fill_null("") != "caller"))
    keys = ["provider", "model", "service_tier", "batch", "_day"]
    groups = ok.group_by(keys).agg(pl.col("started_us").min().alias("_at"))
    ids: dict[tuple[Any, ...], int] = {}
    plans: dict[int, Any] = {}
    fp_col: list[int | None] = []
    for provider, model, tier, batch, _, at in groups.iter_rows():
        plan, start, end = book.plan(tenant, provider, model, context(tier, batch), at)
        if type(plan) is str:
            fp_col.append(None)
            continue
        fp = plan.fingerprint if end - start >= _US_PER_DAY else ("row", provider, model, tier, batch)
        fid = ids.setdefault(fp, len(ids))
        plans[fid] = plan
        fp_col.append(fid if fp[0] != "row" else -1 - fid)
    groups = groups.with_columns(pl.Series("_fp", fp_col, dtype=pl.Int64))
    ok = ok.join(groups.select(*keys, "_fp"), on=keys, how="left", nulls_equal=True)
    out_rows: list[int] = []
    out_s: list[int | None] = []
    out_p: list[int | None] = []
    # Day-wide plans: each distinct (prices, usage) once.
    shared = ok.filter(pl.col("_fp") >= 0)
    uniq = shared.select("_fp", *COLUMNS, "_other").unique()
    cols = [uniq[c].to_list() for c in COLUMNS]
    priced = [_three_prices(plans[f], [c[k] for c in cols], o or None)
              for k, (f, o) in enumerate(zip(uniq["_fp"].to_list(), uniq["_other"].to_list(), strict=True))]
    uniq = uniq.with_columns(pl.Series("_s", [p[0] for p in priced], dtype=pl.Int64),
                             pl.Series("_p", [p[1] for p in priced], dtype=pl.Int64))
    joined = shared.join(uniq, on=["_fp", *COLUMNS, "_other"], how="left").select("_row", "_s", "_p")
    out_rows += joined["_row"].to_list()
    out_s += joined["_s"].to_list()
    out_p += joined["_p"].to_list()
    # Time-of-day prices: the plan of each round's own instant.
    for r in ok.filter(pl.col("_fp") < 0).iter_rows(named=True):
        plan = book.plan(tenant, r["provider"], r["model"], context(r["service_tier"], r["batch"]),
                         r["started_us"])[0]
        sp = (None, None) if type(plan) is str else _three_prices(plan, [r[c] for c in COLUMNS], r["_other"] or None)
        out_rows.append(r["_row"])
        out_s.append(sp[0])
        out_p.append(sp[1])
    money = pl.DataFrame({"_row": out_rows, "_s": out_s, "_p": out_p},
                         schema={"_row": pl.UInt32, "_s": pl.Int64, "_p": pl.Int64})
    pico = pl.lit(Decimal(1).scaleb(-12)).cast(pl.Decimal(38, 12))

    def usd(c: str) -> pl.Expr:
        return (pl.col(c).cast(pl.Decimal(38, 0)) * pico).cast(_COST)

    return (df.join(money, on="_row", how="left").sort("_row")
            .with_columns(usd("_s").alias("savings_usd"), usd("_p").alias("write_premium_usd"),
                          pl.col("_s").is_not_null().alias("priced"))
            .with_columns((pl.col("savings_usd") - pl.col("write_premium_usd")).alias("net_usd"))
            .drop("_row", "_day", "_other", "_s", "_p"))


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


def prepare(active: pl.DataFrame, tenant: str, book: PriceBook) -> pl.DataFrame:
    """The period's rounds with cache activity, priced and judged by the read-back rule (group it with
    ``grouped`` as many ways as wanted: it is priced once)."""
    return price_rounds(wasted_writes(active), tenant, book).filter(pl.col("in_period"))


def grouped(df: pl.DataFrame, totals: pl.DataFrame, group_by: str) -> pl.DataFrame:
    """``prepare``'s rounds and the ``cache_totals`` rows, per ``group_by`` group."""
    if group_by not in GROUPS:
        raise ValueError(f"group_by: expected one of {', '.join(GROUPS)}, got {group_by!r}")
    keys = GROUPS[group_by]
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
