"""Cost trends: stacked cost by agent, model, provider, user or trigger, with a matching table."""

import datetime as dt
from decimal import Decimal

import polars as pl
import streamlit as st

from invlog.dashboard import data, fmt, state
from warehouse.charts import cost_trend_figure
from warehouse.core import MAX_HOURLY_DAYS

tenant, tz = state.sidebar()
st.title(f"Cost trends · {tenant}")
c1, c2, c3, c4 = st.columns([3, 2, 2, 2])
with c1:
    start, end = state.period()
grains = ["hour", "day", "week", "month"]
splits = ["agent", "model", "provider", "user", "trigger", "none"]
grain = c2.selectbox("Grain", grains, index=grains.index(state.param("grain", "day")) if state.param(
    "grain", "day") in grains else 1)
split = c3.selectbox("Split by", splits, index=splits.index(state.param("split", "agent")) if state.param(
    "split", "agent") in splits else 0)
kind = c4.radio("Chart", ["area", "bar"], horizontal=True, index=1 if state.param("chart") == "bar" else 0)
cumulative = st.toggle("Cumulative", value=state.param("cum") == "1")
state.set_params(grain=grain, split=split, chart=kind, cum="1" if cumulative else None)
if grain == "hour" and (end - start).days >= MAX_HOURLY_DAYS:  # the library refuses more (dates: end included)
    st.warning(f"Hourly grain is limited to {MAX_HOURLY_DAYS} days; showing the last {MAX_HOURLY_DAYS} days "
               "of the period.")
    start = end - dt.timedelta(days=MAX_HOURLY_DAYS - 1)

with st.spinner("Querying the lake…"):
    df = state.guarded(data.cost_trend, data.lake_url(), tenant, start, end, grain, None if split == "none" else split)
st.plotly_chart(cost_trend_figure(df, kind=kind, cumulative=cumulative, title=f"Cost per {grain} (UTC)"),
                width="stretch", key="trend")
total = sum((c for c in df["cost_usd"].to_list() if c is not None), Decimal(0))
runs = int(df["runs"].sum()) if df.height else 0
unpriced = int(df["unpriced_runs"].sum()) if df.height else 0
m1, m2, m3 = st.columns(3)
m1.metric("Total cost", fmt.money(total))
m2.metric("Runs", fmt.tokens(runs))
m3.metric("Unpriced runs", fmt.tokens(unpriced),
          help="Runs whose cost is unknown (unknown model, missing or unreadable usage): not counted as $0")
table = df.filter(pl.col("runs") > 0) if df.height else df
st.dataframe(
    table.with_columns(fmt.money_text("cost_usd")),
    column_config={
        "period": st.column_config.DatetimeColumn("Period (UTC)", format="YYYY-MM-DD HH:mm" if grain == "hour"
                                                  else "YYYY-MM-DD"),
        "split": split.capitalize() if split != "none" else "Total",
        "cost_usd": st.column_config.TextColumn("Cost (USD)"),
        "unpriced_runs": st.column_config.NumberColumn("Unpriced runs", format="localized"),
        "runs": st.column_config.NumberColumn("Runs", format="localized"),
        "input_tokens": st.column_config.NumberColumn("Input tokens", format="localized"),
        "output_tokens": st.column_config.NumberColumn("Output tokens", format="localized"),
        "cache_read_tokens": st.column_config.NumberColumn("Cache-read tokens", format="localized"),
    },
    hide_index=True, width="stretch")
