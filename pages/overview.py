"""Overview: a team lead's picture at a glance: live totals with deltas, cost by agent over the last 14 days,
runs and error rate, the top models, unpriced runs, and the latest failures."""

import datetime as dt

import polars as pl
import streamlit as st

from invlog.dashboard import data, fmt, state
from warehouse.charts import activity_figure, cost_trend_figure

tenant, tz = state.sidebar()
st.title(f"Overview · {tenant}")
auto = st.toggle("Auto-refresh every 30 s", value=state.param("live") == "1")
state.set_params(live="1" if auto else None)


@st.fragment(run_every=30 if auto else None)
def live() -> None:
    minute = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M")
    row = state.guarded(data.tenant_totals, data.lake_url(), tenant, minute).row(0, named=True)
    c1, c2, c3, c4 = st.columns(4)  # short values with deltas: four columns hold them whole
    c1.metric("Total runs", fmt.tokens(row["total_runs"]))
    c2.metric("Runs today", fmt.tokens(row["runs_today"]), fmt.delta(row["runs_today"], row["runs_yesterday"]),
              help="UTC day; the delta compares with yesterday")
    c3.metric("Errors (24 h)", fmt.tokens(row["errors_24h"]), fmt.delta(row["errors_24h"], row["errors_prev_24h"]),
              delta_color="inverse", help="Failed and timed-out runs in the last 24 hours vs the 24 hours before")
    cost, before = row["cost_today_usd"], row["cost_yesterday_usd"]
    change = fmt.delta(cost, before, usd=True) if cost is not None and before is not None else None
    c4.metric("Cost today", fmt.money(cost), change, delta_color="inverse",
              help="Known costs of today's runs (UTC day); the delta compares with yesterday")
    if row["unpriced_today"]:
        c4.caption(f"{fmt.tokens(row['unpriced_today'])} runs today have no known cost (not counted as $0)")
    st.caption(f"Updated {fmt.when(dt.datetime.now(dt.UTC), tz)} ({tz})")


live()
today = state.today()
start = today - dt.timedelta(days=13)
by_agent = state.guarded(data.cost_trend, data.lake_url(), tenant, start, today, "day", "agent")
by_model = state.guarded(data.cost_trend, data.lake_url(), tenant, start, today, "day", "model")
activity = state.guarded(data.daily_activity, data.lake_url(), tenant, start, today)
st.plotly_chart(cost_trend_figure(by_agent, kind="bar", title="Cost by agent, last 14 days (UTC days)"),
                width="stretch", key="cost-by-agent")
left, right = st.columns([3, 2])
left.plotly_chart(activity_figure(activity, "Runs and error rate, last 14 days"), width="stretch", key="activity")
with right:
    st.markdown("**Top models, last 14 days**")
    models = (by_model.group_by("split").agg(pl.col("cost_usd").sum(), pl.col("runs").sum(),
                                             pl.col("unpriced_runs").sum())
              .filter(pl.col("runs") > 0).sort("cost_usd", "runs", descending=True, nulls_last=True).head(6))
    st.dataframe(models.with_columns(fmt.money_text("cost_usd")),
                 hide_index=True, width="stretch", column_config={
                     "split": "Model", "cost_usd": "Cost",
                     "runs": st.column_config.NumberColumn("Runs", format="localized"),
                     "unpriced_runs": st.column_config.NumberColumn("Unpriced runs", format="localized")})
    unpriced = int(activity["unpriced_runs"].sum())
    if unpriced:
        st.warning(f"{unpriced:,} runs in the last 14 days have no known cost (unknown model or missing usage); "
                   "they are not counted as $0.")
        st.page_link("pages/invocations.py", label="See the costliest runs of the period",
                     query_params={"tenant": tenant, "from": start.isoformat(), "to": today.isoformat(),
                                   "sort": "cost"})
    else:
        st.caption("Every run of the last 14 days is priced.")

st.subheader("Latest failures")
failures = state.guarded(data.invocations, data.lake_url(), tenant, today - dt.timedelta(days=6), today,
                         (("status", ("Failed", "Timeout")),), "time", 10, 0)[0]
if failures.is_empty():
    st.success("No failed or timed-out runs in the last 7 days.")
else:  # one table (not a row of widgets per run): a page of 70 elements took the browser 0.3 s more to draw
    st.dataframe(failures.with_columns(
        pl.col("started_at").map_elements(lambda t: fmt.when(t, tz), return_dtype=pl.Utf8).alias("time"),
        pl.col("error_type").fill_null("—"), fmt.money_text("cost_usd"),
        pl.format("trace?tenant={}&id={}", pl.lit(tenant), pl.col("invocation_id")).alias("trace"),
    ).select("time", "agent", "model", "status", "error_type", "cost_usd", "trace"),
        hide_index=True, width="stretch", key="failures", column_config={
            "time": "Started", "agent": "Agent", "model": "Model", "status": "Status", "error_type": "Error",
            "cost_usd": "Cost", "trace": st.column_config.LinkColumn("Trace", display_text="open")})
