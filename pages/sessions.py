"""Sessions: a session's runs in order with its total cost, tokens and duration, each run linking to its trace."""

from urllib.parse import urlencode

import polars as pl
import streamlit as st

from invlog.dashboard import data, fmt, state

tenant, tz = state.sidebar()
st.title(f"Sessions · {tenant}")
start, end = state.period()
user = state.param("user")
with st.spinner("Querying the lake…"):
    df = state.guarded(data.sessions, data.lake_url(), tenant, start, end, user)
if user:
    st.caption(f"Sessions of user {user}. [All sessions](sessions?{urlencode({'tenant': tenant})})")
if df.height == 0:
    st.info("No sessions in this period (runs recorded with a `session_id` appear here).")
    st.stop()
chosen = state.param("session")
ids = df["session_id"].to_list()
picked = st.selectbox("Session", ids, index=ids.index(chosen) if chosen in ids else 0,
                      format_func=lambda s: f"{s} · {fmt.when(df.row(ids.index(s), named=True)['started_at'], tz)}")
state.set_params(session=picked)
row = df.row(ids.index(picked), named=True)
state.metric_row([("Runs", f"{row['runs']:,}"),
                  ("Cost", fmt.money(row["cost_usd"]), f"{row['unpriced_runs']:,} unpriced runs not included"
                   if row["unpriced_runs"] else None),
                  ("Tokens", f"{row['tokens']:,}"), ("Duration", fmt.duration(row["duration_ms"])),
                  ("Errors", f"{row['errors']:,}")])
st.caption(f"User {row['user_id'] or '(none)'} · agents {row['agents']} · from {fmt.when(row['started_at'], tz)} "
           f"to {fmt.when(row['ended_at'], tz)}")
runs, _ = state.guarded(data.invocations, data.lake_url(), tenant, start, end, (("session_id", picked),), "oldest",
                        500, 0)
shown = runs.with_columns(
    pl.col("invocation_id").map_elements(lambda i: "trace?" + urlencode({"tenant": tenant, "id": i}),
                                         return_dtype=pl.Utf8).alias("trace"),
    pl.col("started_at").map_elements(lambda t: fmt.when(t, tz), return_dtype=pl.Utf8).alias("started"),
    fmt.money_text("cost_usd", alias="cost"), pl.col("latency_ms").round(0).cast(pl.Int64))
st.dataframe(shown.select("started", "trace", "agent", "status", "user_message_preview", "cost", "latency_ms",
                          "input_tokens", "output_tokens"),
             hide_index=True, width="stretch", column_config={
                 "started": "Started", "trace": st.column_config.LinkColumn("Trace", display_text="open trace"),
                 "agent": "Agent", "status": "Status", "user_message_preview": "User message", "cost": "Cost",
                 "latency_ms": st.column_config.NumberColumn("Latency (ms)", format="localized"),
                 "input_tokens": st.column_config.NumberColumn("Input tokens", format="localized"),
                 "output_tokens": st.column_config.NumberColumn("Output tokens", format="localized")})
st.markdown("**All sessions in the period**")
st.dataframe(df.with_columns(fmt.money_text("cost_usd"),
                             pl.col("session_id").map_elements(
                                 lambda s: "sessions?" + urlencode({"tenant": tenant, "session": s,
                                                                    "from": start.isoformat(), "to": end.isoformat()}),
                                 return_dtype=pl.Utf8).alias("open"))
             .select("session_id", "open", "user_id", "agents", "runs", "cost_usd", "tokens", "duration_ms", "errors"),
             hide_index=True, width="stretch", column_config={
                 "session_id": "Session", "open": st.column_config.LinkColumn("Open", display_text="open"),
                 "user_id": "User", "agents": "Agents",
                 "runs": st.column_config.NumberColumn("Runs", format="localized"),
                 "cost_usd": "Cost", "tokens": st.column_config.NumberColumn("Tokens", format="localized"),
                 "duration_ms": st.column_config.NumberColumn("Duration (ms)", format="localized"),
                 "errors": st.column_config.NumberColumn("Errors", format="localized")})
