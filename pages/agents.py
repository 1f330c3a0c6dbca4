"""Agents ranked by cost: runs, cost per run, p95 latency, error rate, cache-read share."""

from urllib.parse import urlencode

import polars as pl
import streamlit as st

from invlog.dashboard import data, fmt, state
from warehouse.charts import agents_bar_figure

tenant, tz = state.sidebar()
st.title(f"Agents · {tenant}")
start, end = state.period()
with st.spinner("Querying the lake…"):
    df = state.guarded(data.expensive_agents, data.lake_url(), tenant, start, end, 50)
if df.height == 0:
    st.info("No runs in this period.")
    st.stop()
st.plotly_chart(agents_bar_figure(df), width="stretch", key="agents")
# Each agent's invocations, as a link column of the table (a shared URL of the Invocations page, filtered).
links = [f"invocations?{urlencode({'tenant': tenant, 'agent': a, 'from': start.isoformat(), 'to': end.isoformat()})}"
         for a in df["agent"].to_list()]
df = df.with_columns(pl.Series("invocations", links))
money = [fmt.money_text(c) for c in ("total_cost_usd", "avg_cost_usd", "p95_cost_usd")]  # "unpriced", never $0
st.dataframe(
    df.select("agent", "invocations", "runs", *money, "p95_latency_ms", "error_rate", "cache_read_share",
              "input_tokens", "output_tokens", "unpriced_runs"),
    column_config={
        "agent": st.column_config.TextColumn("Agent"),
        "invocations": st.column_config.LinkColumn("Invocations", display_text="open its runs",
                                                   help="This agent's invocations in the period"),
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
