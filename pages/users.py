"""Users: cost, runs and error rate per user over the period, each linking to that user's invocations and sessions."""

from urllib.parse import urlencode

import polars as pl
import streamlit as st

from invlog.dashboard import data, fmt, state

tenant, tz = state.sidebar()
st.title(f"Users · {tenant}")
start, end = state.period()
with st.spinner("Querying the lake…"):
    df = state.guarded(data.users, data.lake_url(), tenant, start, end)
if df.height == 0:
    st.info("No runs in this period.")
    st.stop()
span = {"tenant": tenant, "from": start.isoformat(), "to": end.isoformat()}
c = st.columns(3)
c[0].metric("Users", f"{df.filter(pl.col('user_id') != '(none)').height:,}")
c[1].metric("Runs", f"{int(df['runs'].sum()):,}")
c[2].metric("Cost", fmt.money(df["cost_usd"].sum()) if df["cost_usd"].null_count() < df.height else "unpriced")
shown = df.with_columns(
    fmt.money_text("cost_usd", alias="cost"),
    pl.col("user_id").map_elements(lambda u: "invocations?" + urlencode({**span, "user": u}) if u != "(none)" else None,
                                   return_dtype=pl.Utf8).alias("invocations"),
    pl.col("user_id").map_elements(lambda u: "sessions?" + urlencode({**span, "user": u}) if u != "(none)" else None,
                                   return_dtype=pl.Utf8).alias("sessions"),
    pl.col("last_run").map_elements(lambda t: fmt.when(t, tz), return_dtype=pl.Utf8).alias("last_run"))
st.dataframe(
    shown.select("user_id", "invocations", "sessions", "runs", "cost", "error_rate", "errors", "unpriced_runs",
                 "input_tokens", "output_tokens", "last_run"),
    hide_index=True, width="stretch", column_config={
        "user_id": st.column_config.TextColumn("User"),
        "invocations": st.column_config.LinkColumn("Invocations", display_text="open runs"),
        "sessions": st.column_config.LinkColumn("Sessions", display_text="open sessions"),
        "runs": st.column_config.NumberColumn("Runs", format="localized"),
        "cost": st.column_config.TextColumn("Cost"),
        "error_rate": st.column_config.NumberColumn("Error rate", format="percent"),
        "errors": st.column_config.NumberColumn("Errors", format="localized"),
        "unpriced_runs": st.column_config.NumberColumn("Unpriced runs", format="localized"),
        "input_tokens": st.column_config.NumberColumn("Input tokens", format="localized"),
        "output_tokens": st.column_config.NumberColumn("Output tokens", format="localized"),
        "last_run": st.column_config.TextColumn("Last run")})
st.caption("Cost is the known cost; a user whose runs are all unpriced shows \"unpriced\", never $0. Runs without "
           "a user id are grouped as (none).")
