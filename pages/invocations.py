"""Invocations: a filterable, sortable, paginated list; each row opens its trace."""

import polars as pl
import streamlit as st

from invlog.dashboard import data, fmt, state

PAGE_SIZE = 50
tenant, tz = state.sidebar()
st.title(f"Invocations · {tenant}")
start, end = state.period()
c = st.columns(6)
statuses, triggers, sorts = ["", "Success", "Failed", "Timeout"], ["", "user", "system", "task"], [
    "time", "cost", "latency", "tokens", "oldest"]
any_ = {"format_func": lambda v: v or "Any"}  # "" is "no filter"; shown as a word, not a cut-off placeholder
agent = c[0].text_input("Agent", state.param("agent", ""), placeholder="Any agent")
model = c[1].text_input("Model", state.param("model", ""), placeholder="Any model")
status = c[2].selectbox("Status", statuses, index=statuses.index(state.param("status", "")) if state.param(
    "status", "") in statuses else 0, **any_)
trigger = c[3].selectbox("Trigger", triggers, index=triggers.index(state.param("trigger", "")) if state.param(
    "trigger", "") in triggers else 0, **any_)
user = c[4].text_input("User", state.param("user", ""), placeholder="Any user")
sort = c[5].selectbox("Sort", sorts, index=sorts.index(state.param("sort", "time")) if state.param(
    "sort", "time") in sorts else 0)
text = st.text_input("Search user messages and responses", state.param("q", ""),
                     placeholder="Words from a user message or a response")
filters = {"agent": agent or None, "model": model or None, "status": status or None, "trigger": trigger or None,
           "user_id": user or None, "text": text or None}
try:
    page = max(1, int(state.param("page", "1") or 1))
except ValueError:
    page = 1
shown = {"agent": agent, "model": model, "status": status, "trigger": trigger, "user": user, "sort": sort, "q": text}
if any(v != state.param(k, "time" if k == "sort" else "") for k, v in shown.items()):
    page = 1  # the filters changed: their results start on page 1
state.set_params(**shown)
key = tuple(sorted((k, v) for k, v in filters.items() if v))
with st.spinner("Querying the lake…"):
    df, total = state.guarded(data.invocations, data.lake_url(), tenant, start, end, key, sort, PAGE_SIZE,
                              (page - 1) * PAGE_SIZE)
    pages = max(1, -(-total // PAGE_SIZE))
    if page > pages:  # past the end (an old link, ?page=999): the last page, not an empty list
        page = pages
        df, total = state.guarded(data.invocations, data.lake_url(), tenant, start, end, key, sort, PAGE_SIZE,
                                  (page - 1) * PAGE_SIZE)
state.set_params(page=page if page > 1 else None)
st.caption(f"{total:,} matching invocations · page {page} of {pages} · times in {tz}")
if df.height == 0:
    st.info("No invocations match these filters.")
    st.stop()
view = df.with_columns(
    pl.col("started_at").map_elements(lambda t: fmt.when(t, tz), return_dtype=pl.Utf8).alias("time"),
    (pl.col("input_tokens") + pl.col("output_tokens")).alias("tokens"),
    pl.col("latency_ms").round(0).cast(pl.Int64),  # whole milliseconds: 1,557 ms, not 1,557.508
    fmt.money_text("cost_usd"),  # unpriced, never $0
    pl.format("trace?tenant={}&id={}", pl.lit(tenant), pl.col("invocation_id")).alias("trace"),
).select("time", "agent", "model", "status", "trigger", "user_id", "tokens", "cost_usd", "latency_ms", "trace",
         "user_message_preview")
event = st.dataframe(
    view, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row", key="rows",
    column_config={
        "time": st.column_config.TextColumn("Started"), "agent": "Agent", "model": "Model", "status": "Status",
        "trigger": "Trigger", "user_id": "User",
        "cost_usd": st.column_config.TextColumn("Cost"),
        "tokens": st.column_config.NumberColumn("Tokens", format="localized"),
        "latency_ms": st.column_config.NumberColumn("Latency (ms)", format="localized"),
        "trace": st.column_config.LinkColumn("Trace", display_text="open"),
        "user_message_preview": "Message",
    })
rows = event.selection.rows if event and event.selection else []
if rows:
    st.switch_page("pages/trace.py", query_params={"tenant": tenant, "id": df["invocation_id"][rows[0]]})
p1, p2, p3 = st.columns([1, 1, 6], vertical_alignment="center")
if p1.button("◀ Previous", disabled=page <= 1):
    state.set_params(page=page - 1)
    st.rerun()
if p2.button("Next ▶", disabled=page >= pages):
    state.set_params(page=page + 1)
    st.rerun()
labels = {r["invocation_id"]: f"{fmt.when(r['started_at'], tz)} · {r['agent']} · {r['status']} · "
                              f"{fmt.money(r['cost_usd'])}" for r in df.iter_rows(named=True)}
o1, o2 = st.columns([5, 1], vertical_alignment="bottom")  # the button level with the box, not its label
chosen = o1.selectbox("Open a trace", list(labels), format_func=labels.__getitem__, key="open-trace")
if o2.button("Open trace", type="primary"):
    st.switch_page("pages/trace.py", query_params={"tenant": tenant, "id": chosen})
