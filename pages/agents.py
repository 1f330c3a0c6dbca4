"""Agents ranked by cost: runs, cost per run, p95 latency, error rate, cache-read share."""

import polars as pl
import streamlit as st

from invlog.dashboard import data, state
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
st.dataframe(
    df.select("agent", "runs", pl.col("total_cost_usd").cast(pl.Float64), pl.col("avg_cost_usd").cast(pl.Float64),
              pl.col("p95_cost_usd").cast(pl.Float64), "p95_latency_ms", "error_rate", "cache_read_share",
              "input_tokens", "output_tokens", "unpriced_runs"),
    column_config={
        "total_cost_usd": st.column_config.NumberColumn("Total cost", format="$%.4f"),
        "avg_cost_usd": st.column_config.NumberColumn("Avg cost/run", format="$%.6f"),
        "p95_cost_usd": st.column_config.NumberColumn("p95 cost/run", format="$%.6f"),
        "p95_latency_ms": st.column_config.NumberColumn("p95 latency (ms)", format="%.0f"),
        "error_rate": st.column_config.NumberColumn("Error rate", format="percent"),
        "cache_read_share": st.column_config.NumberColumn("Cache-read share", format="percent"),
        "runs": st.column_config.NumberColumn("Runs", format="localized"),
        "input_tokens": st.column_config.NumberColumn("Input tokens", format="localized"),
        "output_tokens": st.column_config.NumberColumn("Output tokens", format="localized"),
    },
    hide_index=True, width="stretch")
