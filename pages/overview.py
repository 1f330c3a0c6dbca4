"""Overview: the tenant's live totals with deltas, a cost sparkline and the latest failures."""

import datetime as dt

import streamlit as st

from invlog.dashboard import data, fmt, state
from warehouse.charts import sparkline_figure

tenant, tz = state.sidebar()
st.title(f"Overview · {tenant}")
auto = st.toggle("Auto-refresh every 30 s", value=state.param("live") == "1")
state.set_params(live="1" if auto else None)


@st.fragment(run_every=30 if auto else None)
def live() -> None:
    minute = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M")
    row = state.guarded(data.tenant_totals, data.lake_url(), tenant, minute).row(0, named=True)
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Total runs", fmt.tokens(row["total_runs"]))
    c2.metric("Runs today", fmt.tokens(row["runs_today"]), fmt.delta(row["runs_today"], row["runs_yesterday"]),
              help="UTC day; the delta compares with yesterday")
    c3.metric("Errors (24 h)", fmt.tokens(row["errors_24h"]), fmt.delta(row["errors_24h"], row["errors_prev_24h"]),
              delta_color="inverse", help="Failed and timed-out runs in the last 24 hours vs the 24 hours before")
    cost, before = row["cost_today_usd"], row["cost_yesterday_usd"]
    c4.metric("Cost today", fmt.money(cost), fmt.delta(cost, before) if cost is not None and before is not None
              else None, delta_color="inverse", help="Known costs of today's runs (UTC day); the delta compares "
              "with yesterday")
    if row["unpriced_today"]:
        c4.caption(f"{fmt.tokens(row['unpriced_today'])} runs today have no known cost (not counted as $0)")
    st.caption(f"Updated {fmt.when(dt.datetime.now(dt.UTC), tz)} ({tz})")


live()
today = state.today()
trend = state.guarded(data.cost_trend, data.lake_url(), tenant, today - dt.timedelta(days=13), today, "day", None)
st.subheader("Cost, last 14 days")
st.plotly_chart(sparkline_figure(trend), width="stretch", key="sparkline")

st.subheader("Latest failures")
failures = []
for status in ("Failed", "Timeout"):
    df, _ = state.guarded(data.invocations, data.lake_url(), tenant, today - dt.timedelta(days=6), today,
                          (("status", status),), "time", 10, 0)
    failures.extend(df.iter_rows(named=True))
failures.sort(key=lambda r: r["started_at"], reverse=True)
if not failures:
    st.success("No failed or timed-out runs in the last 7 days.")
for r in failures[:10]:
    cols = st.columns([3, 2, 2, 2, 1])
    cols[0].write(f"**{r['agent']}** · {r['model']}")
    cols[1].write(f"{r['status']}: {r['error_type'] or '—'}")
    cols[2].write(fmt.when(r["started_at"], tz))
    cols[3].write(fmt.money(r["cost_usd"]))
    cols[4].page_link("pages/trace.py", label="Trace", query_params={"tenant": tenant, "id": r["invocation_id"]})
