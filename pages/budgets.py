"""Budgets & alerts: each budget's spend against its limit, each alert's state, the notifications sent."""

import datetime as dt

import polars as pl
import streamlit as st

from invlog.dashboard import access, data, fmt, state
from invlog.rules import RulesError
from warehouse.alerts import shown

tenant, tz = state.sidebar()
st.title(f"Budgets & alerts · {tenant}")
now = dt.datetime.now(dt.UTC)
view = state.guarded(data.rules_view, data.lake_url(), tenant, now.strftime("%Y%m%d%H%M"))
local = state.identity().local
if view["error"]:  # the message names the file: shown to the local user only
    st.error(f"The rules file cannot be used: {view['error'] if local else 'it is invalid.'} "
             "Budgets and alerts are not evaluated until it is fixed.")
if not view["budgets"] and not view["alerts"] and not view["error"]:
    st.info(f"Tenant {tenant} has no budgets or alerts. Rules live in the lake's `_meta/rules.toml` (or the file "
            "`INVLOG_RULES` names); `python -m warehouse alerts watch` evaluates them and notifies. "
            "See docs/budgets.md.")

st.subheader("Budgets")
for b in view["budgets"]:
    rule = b.budget
    frac = float(b.fraction)
    with st.container(border=True):
        badge = " · **enforced**: runs are refused at the limit" if rule.enforce else ""
        st.markdown(f"**{rule.name}** · {rule.scope.describe()} · "
                    f"{'last ' + str(rule.hours) + ' h' if rule.hours else rule.period}{badge}")
        st.progress(min(frac, 1.0), text=f"{fmt.money(b.spent_usd)} of {fmt.money(rule.limit_usd)} ({frac:.1%})")
        state.metric_row([
            ("Spent", fmt.money(b.spent_usd)), ("Limit", fmt.money(rule.limit_usd)),
            ("Projected", fmt.money(b.projected_usd) if b.projected_usd is not None else "—",
             "The spend by the end of the period at the rate so far (calendar periods)."),
            ("Runs", fmt.tokens(b.runs), f"{b.unpriced_runs:,} unpriced runs are not in the spend"
             if b.unpriced_runs else None)])
        window = (f"{b.start:%Y-%m-%d} to {b.end - dt.timedelta(days=1):%Y-%m-%d} (UTC days)" if b.end
                  else f"since {fmt.when(b.start, tz)}")
        st.caption(f"Window {window}. Warnings at {', '.join(f'{float(w):.0%}' for w in rule.warn_at) or 'none'}"
                   " and at the limit.")
        if frac >= 1:
            st.error("The limit is reached." + (" New runs of this scope are refused." if rule.enforce else ""))
        elif b.unpriced_runs:
            st.warning(f"{b.unpriced_runs:,} unpriced runs in this window are not included in the spend.")
if not view["budgets"]:
    st.caption("No budgets.")

st.subheader("Alerts")
if view["alerts"]:
    checked = view["state"]["alerts"]
    rows = [{"Alert": a.alert.name, "Scope": a.alert.scope.describe(), "Metric": a.alert.metric,
             "Window": f"{a.alert.window_minutes:,} min", "Threshold": f"above {shown(a.alert, a.alert.above)}",
             "Value now": shown(a.alert, a.value), "Runs": f"{a.runs:,}",
             "State": "Firing" if a.firing else ("Not judged" if a.runs < a.alert.min_runs else "OK"),
             "Since": fmt.when(dt.datetime.fromtimestamp(checked[a.alert.name]["since_us"] / 1e6, dt.UTC), tz)
             if a.alert.name in checked and checked[a.alert.name].get("firing") == a.firing else "—"}
            for a in view["alerts"]]
    st.dataframe(pl.DataFrame(rows), hide_index=True, width="stretch")
else:
    st.caption("No alerts.")

st.subheader("Notifications")
history = view["state"]["history"]
if history:
    st.dataframe(pl.DataFrame([
        {"Time": fmt.when(dt.datetime.fromtimestamp(h["at_us"] / 1e6, dt.UTC), tz), "Rule": f"{h['kind']} {h['rule']}",
         "Notification": h["title"], "Delivered": "yes" if h["delivered"] else f"no: {h['error']}"}
        for h in reversed(history)]), hide_index=True, width="stretch")
else:
    st.caption("No notifications sent yet (the checker, `python -m warehouse alerts watch`, sends them).")

if access.may_administer(state.identity(), tenant):
    with st.expander(f"Edit the rules of {tenant}"):
        if not view["editable"]:
            st.info("The rules come from the file INVLOG_RULES names, outside the lake: edit them there.")
        else:
            text = st.text_area("Rules (TOML)", data.rules_text(tenant), height=320, key="rules-text",
                                help="This tenant's [[budget]] and [[alert]] tables; other tenants' rules are kept "
                                     "as they are. Notification targets are env:NAME or secret:NAME.")
            if st.button("Save rules", key="rules-save"):
                try:
                    data.save_rules(tenant, text)
                except RulesError as exc:
                    st.error(str(exc))
                else:
                    st.success("Saved. The checker applies them at its next check.")
                    st.rerun()
