"""Agents ranked by cost: runs, cost per run, p95 latency, error rate, cache-read share."""

import polars as pl
import streamlit as st

from invlog.dashboard import data, fmt, state
from warehouse.charts import agents_bar_figure

tenant, tz = state.sidebar()
st.title(f"Agents · {tenant}")
start, end = state.period(30)
with st.spinner("Querying the lake…"):
    df = state.guarded(data.expensive_agents, data.lake_url(), tenant, start, end, 50)
if df.height == 0:
    st.info("No runs in this period.")
    st.stop()
st.plotly_chart(agents_bar_figure(df), width="stretch", key="agents")
for r in df.iter_rows(named=True):
    st.page_link("pages/invocations.py", label=f"{r['agent']}: open its invocations",
                 query_params={"tenant": tenant, "agent": r["agent"], "from": start.isoformat(),
                               "to": end.isoformat()})
money = [pl.col(c).map_elements(fmt.money, return_dtype=pl.Utf8, skip_nulls=False).alias(c)
         for c in ("total_cost_usd", "avg_cost_usd", "p95_cost_usd")]  # "unpriced", never $0
st.dataframe(
    df.select("agent", "runs", *money, "p95_latency_ms", "error_rate", "cache_read_share", "input_tokens",
              "output_tokens", "unpriced_runs"),
    column_config={
        "total_cost_usd": st.column_config.TextColumn("Total cost"),
        "avg_cost_usd": st.column_config.TextColumn("Avg cost/run"),
        "p95_cost_usd": st.column_config.TextColumn("p95 cost/run"),
        "p95_latency_ms": st.column_config.NumberColumn("p95 latency (ms)", format="localized"),
        "error_rate": st.column_config.NumberColumn("Error rate", format="percent"),
        "cache_read_share": st.column_config.NumberColumn("Cache-read share", format="percent"),
        "runs": st.column_config.NumberColumn("Runs", format="localized"),
        "input_tokens": st.column_config.NumberColumn("Input tokens", format="localized"),
        "output_tokens": st.column_config.NumberColumn("Output tokens", format="localized"),
        "unpriced_runs": st.column_config.NumberColumn("Unpriced runs", format="localized"),
    },
    hide_index=True, width="stretch")
