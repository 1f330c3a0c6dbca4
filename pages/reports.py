"""Reports: a per-tenant spend report to preview, download and share by URL."""

import datetime as dt

import streamlit as st

from invlog.dashboard import data, fmt, state
from warehouse import report as rpt
from warehouse.charts import breakdown_pie_figure, cost_trend_figure

tenant, tz = state.sidebar()
st.title(f"Spend report · {tenant}")
today = state.today()
month_start = today.replace(day=1)
preset = st.radio("Period", ["This month", "Last month", "Custom"], horizontal=True,
                  index=["month", "last", "custom"].index(state.param("preset", "month"))
                  if state.param("preset", "month") in ("month", "last", "custom") else 0)
if preset == "This month":
    start, end = month_start, today
    state.set_params(preset="month", **{"from": None, "to": None})
elif preset == "Last month":
    end = month_start - dt.timedelta(days=1)
    start = end.replace(day=1)
    state.set_params(preset="last", **{"from": None, "to": None})
else:
    state.set_params(preset="custom")
    start, end = state.period(key="report-period")
with st.spinner("Building the report…"):
    rep = state.guarded(data.spend_report, data.lake_url(), tenant, start, end,
                        dt.datetime.now(dt.UTC).strftime("%Y%m%d%H"))
    trend = state.guarded(data.cost_trend, data.lake_url(), tenant, start, end, "day", "agent")
cols = st.columns(5 if rep.month_to_date_usd is not None else 3)
cols[0].metric("Total spend", fmt.money(rep.total_cost_usd))
cols[1].metric("Runs", fmt.tokens(rep.runs))
cols[2].metric("Unpriced runs", fmt.tokens(rep.unpriced_runs))
if rep.month_to_date_usd is not None:
    cols[3].metric("Month to date", fmt.money(rep.month_to_date_usd))
    cols[4].metric("Projected month end", fmt.money(rep.projected_month_usd), help=rep.projection_method)
for note in rep.notes:
    st.warning(note)
st.plotly_chart(cost_trend_figure(trend, kind="bar", title="Daily cost by agent (UTC)"), width="stretch",
                key="report-trend")
c1, c2 = st.columns(2)
c1.plotly_chart(breakdown_pie_figure(rep.by_model, "Cost by model"), width="stretch", key="by-model")
c2.plotly_chart(breakdown_pie_figure(rep.by_agent, "Cost by agent"), width="stretch", key="by-agent")
# The same tables as the HTML report, in its order.
for label, frame in (("By agent", rep.by_agent), ("By model", rep.by_model), ("By user", rep.by_user),
                     ("By day", rep.by_day)):
    st.markdown(f"**{label}**")
    st.dataframe(frame.with_columns(fmt.money_text("cost_usd")),
                 hide_index=True, width="stretch",
                 column_config={"key": st.column_config.TextColumn(label.removeprefix("By ").capitalize()),
                                "runs": st.column_config.NumberColumn("Runs", format="localized"),
                                "cost_usd": st.column_config.TextColumn("Cost"),
                                "unpriced_runs": st.column_config.NumberColumn("Unpriced runs", format="localized"),
                                "input_tokens": st.column_config.NumberColumn("Input tokens", format="localized"),
                                "output_tokens": st.column_config.NumberColumn("Output tokens", format="localized")})
if rep.unpriced.height:
    st.markdown("**Unpriced usage** (not included in the total)")
    st.dataframe(rep.unpriced, hide_index=True, width="stretch", column_config={
        "model": "Model", "provider": "Provider", "reason": "Why unpriced",
        "rounds": st.column_config.NumberColumn("Rounds", format="localized"),
        "invocations": st.column_config.NumberColumn("Runs", format="localized"),
        "input_tokens": st.column_config.NumberColumn("Input tokens", format="localized"),
        "output_tokens": st.column_config.NumberColumn("Output tokens", format="localized")})
st.page_link("pages/caching.py", label="Prompt caching in this period: savings, premiums and the cost without "
             "caching (also a section of the HTML report)", query_params={"tenant": tenant, "from": start.isoformat(),
                                                                         "to": end.isoformat()})
name = f"spend-{tenant}-{start.isoformat()}-{end.isoformat()}"


def _with_caching(report):
    """The HTML report's caching section, priced when the file is built (on click), not on every render."""
    report.caching = data.cache_economics(data.lake_url(), tenant, start, end, "agent")
    return report


d1, d2, d3 = st.columns(3)
# Files are built when clicked (callables), not on every render: the HTML embeds 1.2 MB of Plotly.
state.download_button(d1, "Download CSV", lambda: rpt.to_csv(rep), file_name=f"{name}.csv", mime="text/csv", key="csv")
state.download_button(d2, "Download Parquet", lambda: rpt.to_parquet(rep), file_name=f"{name}.parquet",
                      mime="application/octet-stream", key="parquet")
state.download_button(d3, "Download HTML report", lambda: rpt.to_html(_with_caching(rep), trend),
                      file_name=f"{name}.html", mime="text/html", key="html")
params = "&".join(f"{k}={v}" for k, v in st.query_params.to_dict().items())
st.caption(f"Share this report: `reports?{params}` (the link reopens the same tenant and period for users "
           "allowed to see it)")
