"""Prompt caching: did it pay off? Savings from cache reads, the premium of cache writes, the net, the
writes never read back, and what the period would have cost without caching."""

import polars as pl
import streamlit as st

from invlog.dashboard import data, fmt, state
from warehouse.caching import READ_BACK_RULE
from warehouse.charts import cache_savings_figure

tenant, tz = state.sidebar()
st.title(f"Prompt caching · {tenant}")
start, end = state.period()
with st.spinner("Pricing cache reads and writes…"):
    frames = state.guarded(data.cache_breakdowns, data.lake_url(), tenant, start, end)
by_day, by_prompt = frames["day"], frames["prompt"]
if by_day.height == 0:
    st.info("No runs in this period.")
    st.stop()
reads, writes = int(by_day["cache_read_tokens"].sum()), int(by_day["cache_write_tokens"].sum())
if reads == 0 and writes == 0:
    st.info("No round in this period read from or wrote to a prompt cache.")
    st.stop()
total = {c: by_day[c].sum() for c in ("savings_usd", "write_premium_usd", "net_usd", "cost_usd",
                                      "uncached_cost_usd")}
c = st.columns(4)
c[0].metric("Saved by cache reads", fmt.money(total["savings_usd"]), help="Reads priced at input minus their "
            "cache-read price.")
c[1].metric("Write premium", fmt.money(total["write_premium_usd"]), help="Writes priced at their cache-write price "
            "minus input.")
c[2].metric("Net", fmt.money(total["net_usd"]))
c[3].metric("Without caching", fmt.money(total["uncached_cost_usd"]),
            help=f"What this period would have cost without caching; recorded: {fmt.money(total['cost_usd'])}.")
st.caption(f"Without caching this period would have cost {fmt.money(total['uncached_cost_usd'])} instead of "
           f"{fmt.money(total['cost_usd'])}. {reads:,} tokens read from the cache, {writes:,} written. Unpriced "
           f"rounds ({int(by_day['unpriced_rounds'].sum()):,}) are left out of the money.")
st.plotly_chart(cache_savings_figure(by_day), width="stretch", key="cache-trend")

losing = by_prompt.filter(pl.col("write_premium_usd") > pl.col("savings_usd"))
if losing.height:
    st.warning("Prompts whose cache writes do not pay (the premium is more than the reads save): " + ", ".join(
        f"{r['prompt_name']} v{r['prompt_version']} ({fmt.money(r['net_usd'])})"
        for r in losing.iter_rows(named=True)))


def table(df: pl.DataFrame) -> None:
    shown = df.with_columns(fmt.money_text(c) for c in ("savings_usd", "write_premium_usd", "net_usd", "cost_usd",
                                                       "uncached_cost_usd"))
    st.dataframe(shown, hide_index=True, width="stretch", column_config={
        "prompt_name": "Prompt", "prompt_version": "Version", "agent": "Agent", "model": "Model",
        "rounds": st.column_config.NumberColumn("Rounds", format="localized"),
        "unpriced_rounds": st.column_config.NumberColumn("Unpriced rounds", format="localized"),
        "input_tokens": st.column_config.NumberColumn("Input tokens", format="localized"),
        "cache_read_tokens": st.column_config.NumberColumn("Cache reads", format="localized"),
        "cache_read_share": st.column_config.NumberColumn("Read share of input", format="percent"),
        "cache_write_tokens": st.column_config.NumberColumn("Cache writes", format="localized"),
        "wasted_write_tokens": st.column_config.NumberColumn("Writes never read back*", format="localized"),
        "savings_usd": "Saved", "write_premium_usd": "Write premium", "net_usd": "Net", "cost_usd": "Recorded cost",
        "uncached_cost_usd": "Without caching"})


tabs = st.tabs(["By prompt", "By agent", "By model"])
with tabs[0]:
    table(by_prompt)
with tabs[1]:
    table(frames["agent"])
with tabs[2]:
    table(frames["model"])
st.caption(f"\\* Derived, not reported: provider usage carries no cache key, so {READ_BACK_RULE}. All amounts are "
           "exact, priced with the prices of each call's day.")
