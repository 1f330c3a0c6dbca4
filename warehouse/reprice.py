"""Restatements: a period's cost recomputed from stored usage with other prices.

Nothing recorded is rewritten. :func:`restate_rounds` reads each round's billed
usage from the lake and prices it with a :class:`~invlog.pricing.PriceBook` (the
same engine the recorder uses, so unchanged prices give the recorded digits): at
the call's own instant, or with ``price_date`` at the same time of day on that
date (the price history genai-prices carries), and optionally with an overrides
file. A caller's own price (``price_source = 'caller'``) is kept as recorded; a
round recorded without usage stays unpriced with its reason. :func:`difference`
lists, per day, provider and model, the recorded and restated cost and the
difference; its rows sum exactly to the total difference (priced rounds only:
unpriced rounds are counted apart, never as $0).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import orjson
import polars as pl

from invlog.pricing import COLUMNS, PriceBook, check_usage, context

_US_PER_DAY = 86_400_000_000
_NO_USAGE = ("missing_usage", "unreadable_usage")
_COST = pl.Decimal(38, 12)


def restate_rounds(rounds: pl.DataFrame, tenant: str, book: PriceBook,
                   price_date: dt.date | None = None) -> pl.DataFrame:
    """``rounds`` (the ``reprice_rounds`` query) with ``restated_cost_usd``, ``restated_unpriced``,
    ``restated_reason`` and ``restated_price_source``."""
    shift = None
    if price_date is not None:
        shift = (price_date - dt.date(1970, 1, 1)).days * _US_PER_DAY
    costs: list[Decimal | None] = []
    reasons: list[str | None] = []
    sources: list[str | None] = []
    cols = [rounds[c].to_list() for c in COLUMNS]
    other = rounds["other_usage"].to_list()
    for n, row in enumerate(rounds.select("started_us", "provider", "model", "recorded_cost_usd", "price_source",
                                          "unpriced_reason", "service_tier", "batch").iter_rows()):
        started, provider, model, recorded, source, reason, tier, batch = row
        if source == "caller":
            costs.append(recorded)
            reasons.append(None)
            sources.append(source)
            continue
        usage: dict[str, Any] = {c: int(v[n] or 0) for c, v in zip(COLUMNS, cols, strict=True) if v[n]}
        if other[n]:
            usage.update(orjson.loads(other[n]))
        if reason in _NO_USAGE or not usage:
            costs.append(None)
            reasons.append(reason or "missing_usage")
            sources.append(None)
            continue
        when = started if shift is None else shift + started % _US_PER_DAY
        u_cols, u_other, shape = check_usage(usage)
        picos, src, why = book.price(tenant, provider, model, context(tier, batch), when, u_cols, u_other, shape)
        costs.append(None if picos is None else Decimal(picos).scaleb(-12))
        reasons.append(why)
        sources.append(src)
    return rounds.with_columns(
        pl.Series("restated_cost_usd", costs, dtype=_COST),
        pl.Series("restated_unpriced", [c is None for c in costs], dtype=pl.Boolean),
        pl.Series("restated_reason", reasons, dtype=pl.Utf8),
        pl.Series("restated_price_source", sources, dtype=pl.Utf8),
    )


def difference(restated: pl.DataFrame) -> pl.DataFrame:
    """Per day, provider and model: recorded vs restated cost, the difference, unpriced counts,
    and a final ``total`` row."""
    cost = pl.col("recorded_cost_usd").cast(_COST)
    new = pl.col("restated_cost_usd").cast(_COST)
    per = (restated.group_by("day", "provider", "model")
           .agg(pl.len().alias("rounds"),
                cost.sum().alias("recorded_cost_usd"),
                new.sum().alias("restated_cost_usd"),
                pl.col("recorded_unpriced").sum().cast(pl.Int64).alias("recorded_unpriced_rounds"),
                pl.col("restated_unpriced").sum().cast(pl.Int64).alias("restated_unpriced_rounds"))
           .with_columns((pl.col("restated_cost_usd") - pl.col("recorded_cost_usd")).alias("difference_usd"))
           .sort("day", "provider", "model")
           .with_columns(pl.col("day").cast(pl.Utf8)))
    total = per.select(pl.lit("total").alias("day"), pl.lit(None, pl.Utf8).alias("provider"),
                       pl.lit(None, pl.Utf8).alias("model"), pl.col("rounds").sum(),
                       pl.col("recorded_cost_usd").sum(), pl.col("restated_cost_usd").sum(),
                       pl.col("recorded_unpriced_rounds").sum(), pl.col("restated_unpriced_rounds").sum(),
                       pl.col("difference_usd").sum())
    return pl.concat([per, total], how="vertical_relaxed")


def restated_invocations(invocations: pl.DataFrame, restated: pl.DataFrame) -> pl.DataFrame:
    """``invocations`` with ``cost_usd``/``unpriced``/``unpriced_reason`` restated from their rounds
    (a run is priced only when every round is)."""
    per = restated.group_by("invocation_id").agg(
        pl.col("restated_cost_usd").cast(_COST).sum().alias("_cost"),
        pl.col("restated_unpriced").any().alias("_unpriced"),
        pl.col("restated_reason").drop_nulls().first().alias("_reason"))
    out = invocations.join(per, on="invocation_id", how="left")
    return out.with_columns(
        pl.when(pl.col("_unpriced")).then(None).otherwise(
            pl.col("_cost").fill_null(Decimal(0))).cast(invocations["cost_usd"].dtype).alias("cost_usd"),
        pl.col("_unpriced").fill_null(False).alias("unpriced"),
        pl.col("_reason").alias("unpriced_reason"),
    ).drop("_cost", "_unpriced", "_reason")
