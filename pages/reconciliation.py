"""Reconciliation: the cost we recorded against what the provider bills, from its own usage and cost reports."""

import polars as pl
import streamlit as st

from invlog.dashboard import data, fmt, state
from warehouse.charts import reconciliation_figure
from warehouse.reconcile import CLASSES, latest_per_day

tenant, tz = state.sidebar()
st.title(f"Reconciliation · {tenant}")
runs = state.guarded(data.reconciliation_runs, data.lake_url(), tenant)
if runs.height == 0:
    st.info("No reconciliation yet for this tenant. Run `python -m warehouse reconcile --provider openai --from "
            "DATE --to DATE` (or `--provider anthropic`) with the provider's admin key in `OPENAI_ADMIN_KEY` / "
            "`ANTHROPIC_ADMIN_KEY`; see docs/reconciliation.md.")
    st.stop()


for provider in runs["provider"].unique(maintain_order=True).to_list():
    mine = runs.filter(pl.col("provider") == provider)
    last = mine.filter(pl.col("run_id") == mine["run_id"].max())
    head = last.row(0, named=True)
    st.subheader(f"{provider}: last run {fmt.when(head['run_at'], tz)} ({head['period_start']} to "
                 f"{head['period_end']})")
    counts = {c: int((last["class"] == c).sum()) for c in CLASSES}
    c = st.columns(4)
    c[0].metric("Recorded", fmt.money(last["recorded_cost_usd"].sum()))
    reported = last["reported_cost_usd"].drop_nulls()
    c[1].metric("Reported by the provider", fmt.money(reported.sum()) if reported.len() else "—")
    c[2].metric("Difference", fmt.signed_money(last["difference_usd"].drop_nulls().sum()) if reported.len() else "—")
    c[3].metric("Day-model rows matching", f"{counts['match'] + counts['rounding']:,} of {last.height:,}")
    off = {k: v for k, v in counts.items() if v and k not in ("match", "rounding")}
    if off:
        st.warning("To look at: " + ", ".join(f"{v:,} × {k}" for k, v in off.items()))
    shown = last.select("day", "model", "class", "recorded_input_tokens", "reported_input_tokens",
                        "recorded_output_tokens", "reported_output_tokens", "recorded_cost_usd", "reported_cost_usd",
                        "difference_usd").with_columns(
        fmt.money_text("recorded_cost_usd"),
        fmt.money_text("reported_cost_usd").replace("unpriced", "—"),  # no cost line from the provider
        fmt.money_text("difference_usd", signed=True))
    st.dataframe(shown, hide_index=True, width="stretch", key=f"rows-{provider}", column_config={
        "day": st.column_config.DateColumn("Day", format="YYYY-MM-DD"), "model": "Model", "class": "Class",
        "recorded_input_tokens": st.column_config.NumberColumn("Input (recorded)", format="localized"),
        "reported_input_tokens": st.column_config.NumberColumn("Input (reported)", format="localized"),
        "recorded_output_tokens": st.column_config.NumberColumn("Output (recorded)", format="localized"),
        "reported_output_tokens": st.column_config.NumberColumn("Output (reported)", format="localized"),
        "recorded_cost_usd": "Recorded", "reported_cost_usd": "Reported", "difference_usd": "Difference"})

st.subheader("Trend")
st.plotly_chart(reconciliation_figure(latest_per_day(runs)), width="stretch", key="reconcile-trend")
st.caption("Each day as the newest run saw it. Classes: match; rounding (same tokens, at most the configured "
           "rounding apart); price difference (same tokens, another price: an override or tier); unrecorded usage "
           "(the provider billed tokens the lake does not hold: calls outside the recorder); not in provider report "
           "(the report lags, or a key is not mapped).")
