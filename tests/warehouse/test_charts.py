"""Pure chart builders (warehouse.charts): one colour per name on every chart, days without midnight times."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import polars as pl

from warehouse.charts import activity_figure, breakdown_pie_figure, colours, cost_trend_figure

NAMES = ["triage", "support-bot", "router", "research-agent", "etl-summarizer", "billing-bot", "ops"]


def test_each_name_has_its_own_colour_and_the_same_one_on_every_chart():
    palette = colours(NAMES)
    assert len(set(palette.values())) == len(NAMES)  # no two names of a chart share a colour
    assert colours(list(reversed(NAMES))) == palette  # not from the position in the chart
    days = [dt.datetime(2026, 11, d, tzinfo=dt.UTC) for d in (1, 2)]
    trend = pl.DataFrame({"period": days * len(NAMES), "split": [n for n in NAMES for _ in days],
                          "cost_usd": [Decimal("0.5")] * (2 * len(NAMES))})
    bars = {t.name: t.marker.color for t in cost_trend_figure(trend, kind="bar").data}
    pie = breakdown_pie_figure(pl.DataFrame({"key": NAMES, "cost_usd": [Decimal(1)] * len(NAMES),
                                             "unpriced_runs": [0] * len(NAMES)}), "Cost by agent").data[0]
    assert bars == palette == dict(zip(pie.labels, pie.marker.colors, strict=True))


def test_day_grain_axes_show_dates_not_midnight():
    days = [dt.datetime(2026, 11, d, tzinfo=dt.UTC) for d in (1, 2, 3)]
    fig = cost_trend_figure(pl.DataFrame({"period": days, "split": ["total"] * 3, "cost_usd": [Decimal(1)] * 3}))
    assert fig.layout.xaxis.tickformat == "%b %d, %Y"
    hours = [dt.datetime(2026, 11, 1, h, tzinfo=dt.UTC) for h in (0, 1)]
    fig = cost_trend_figure(pl.DataFrame({"period": hours, "split": ["total"] * 2, "cost_usd": [Decimal(1)] * 2}))
    assert fig.layout.xaxis.tickformat is None  # hours keep their time


def test_activity_shows_runs_and_an_error_rate_that_is_absent_on_empty_days():
    df = pl.DataFrame({"day": [dt.datetime(2026, 11, d, tzinfo=dt.UTC) for d in (1, 2)], "runs": [10, 0],
                       "errors": [2, 0], "unpriced_runs": [0, 0], "error_rate": [0.2, None]})
    runs, rate = activity_figure(df).data
    assert list(runs.y) == [10, 0] and list(rate.y) == [0.2, None] and rate.yaxis == "y2"
