"""Evaluating budgets and alerts over the lake, notifying once per threshold, keeping state in the lake.

``check(wh, rules)`` evaluates every rule once. A budget sums the known spend of its scope in
its current window (``invlog.rules.periods``) and notifies when the spend crosses a threshold
(each fraction in ``warn_at``, then the limit): once per threshold and calendar window (a
rolling window re-arms a threshold when the spend falls back below it); several thresholds
crossed since the last check make one notification. An alert computes its metric over the last
``window_minutes`` and notifies when it starts firing (value above the threshold with at least
``min_runs`` runs) and when it resolves. A notification counts only once every target accepted
it; otherwise it is retried at the next check (and the failure is in the history). The state
(``invlog.rules.state``) is read before and written after each tenant's rules, so a restarted
checker neither repeats nor forgets; it also writes each budget's spend for the recorder's hard
limits. Run one checker per lake (``python -m warehouse alerts watch``): two checkers may both
notify a threshold.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from invlog.rules import Alert, Budget, Rules, window
from invlog.rules import state as rstate
from invlog.rules.periods import label
from warehouse.money import money
from warehouse.notify import Sent, send

log = logging.getLogger("invocation_logs.alerts")
ENV_DASHBOARD = "INVLOG_DASHBOARD_URL"
DEFAULT_DASHBOARD = "http://localhost:8501"
_US = dt.timedelta(microseconds=1)

Sender = Callable[[tuple[str, ...], str, str, str], Sent]


@dataclass
class Outcome:
    """One rule's evaluation: its value against its threshold, and what was sent."""

    kind: str  # budget | alert
    tenant: str
    name: str
    value: Any  # Decimal spend, a count, a rate, a latency; None when there is nothing to judge
    threshold: Any
    firing: bool
    summary: str
    sent: list[dict[str, Any]] = field(default_factory=list)


def _us(t: dt.datetime) -> int:
    return (t - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // _US


def _pct(frac: Decimal) -> str:
    return f"{frac * 100:.1f}%"


def dashboard_link(tenant: str) -> str:
    base = os.environ.get(ENV_DASHBOARD, DEFAULT_DASHBOARD).rstrip("/")
    return f"{base}/budgets?tenant={tenant}"


def check(wh: Any, rules: Rules, *, now: dt.datetime | None = None, secrets: str | None = None,
          sender: Sender | None = None) -> list[Outcome]:
    """Evaluate every rule once, notify what crossed, and write each tenant's state to the lake."""
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)

    def deliver(targets: tuple[str, ...], title: str, body: str, kind: str) -> Sent:
        return send(targets, title, body, kind, secrets=secrets)

    out: list[Outcome] = []
    for tenant in rules.tenants:
        mine = rules.for_tenant(tenant)
        out.extend(_check_tenant(wh, tenant, mine, now, sender or deliver))
    return out


def _check_tenant(wh: Any, tenant: str, rules: Rules, now: dt.datetime, sender: Sender) -> list[Outcome]:
    lake = wh.lake
    state = rstate.read_alerts(lake, tenant)
    now_us = _us(now)
    spend: list[dict[str, Any]] = []
    out: list[Outcome] = []
    for b in rules.budgets:
        o, row = _budget(wh, b, now, state, sender)
        spend.append(row)
        out.append(o)
    # The spend first: the recorder's hard limits need it even if a notification is slow.
    rstate.write_budgets(lake, tenant, now_us, spend)
    for a in rules.alerts:
        out.append(_alert(wh, a, now, state, sender))
    for o in out:
        for s in o.sent:
            state["history"].append({"at_us": now_us, "kind": o.kind, "rule": o.name, **s})
    live = {("budget", b.name) for b in rules.budgets} | {("alert", a.name) for a in rules.alerts}
    state["budgets"] = {k: v for k, v in state["budgets"].items() if ("budget", k) in live}
    state["alerts"] = {k: v for k, v in state["alerts"].items() if ("alert", k) in live}
    rstate.write_alerts(lake, tenant, state)
    return out


def _notify(sender: Sender, targets: tuple[str, ...], title: str, body: str, kind: str, event: str,
            sent: list[dict[str, Any]]) -> bool:
    if not targets:
        sent.append({"event": event, "title": title, "message": body, "delivered": False,
                     "error": "no notify targets"})
        return True  # nothing to deliver: the event is recorded and not retried
    res = sender(targets, title, body, kind)
    if not res.delivered:
        log.warning("notification %r not delivered: %s (retried at the next check)", title, res.error)
    sent.append({"event": event, "title": title, "message": body, "delivered": res.delivered, "error": res.error})
    return res.delivered


@dataclass(frozen=True)
class BudgetStatus:
    """A budget's spend in its current window, as the checker and the dashboard see it."""

    budget: Budget
    start: dt.datetime
    end: dt.datetime | None  # None: rolling
    spent_usd: Decimal
    fraction: Decimal
    runs: int
    unpriced_runs: int
    projected_usd: Decimal | None  # calendar windows: the spend at the current rate by the window's end

    @property
    def summary(self) -> str:
        b = self.budget
        unpriced = f"; {self.unpriced_runs:,} unpriced runs are not included" if self.unpriced_runs else ""
        return (f"spent {money(self.spent_usd)} of {money(b.limit_usd)} ({_pct(self.fraction)}) in the "
                f"{label(b.period, b.hours)} window from {self.start:%Y-%m-%d %H:%M} UTC "
                f"({self.runs:,} runs{unpriced})")


def budget_status(wh: Any, b: Budget, now: dt.datetime) -> BudgetStatus:
    w = window(b.period, b.hours, now)
    end = w.end if w.end is not None else now + _US
    m = wh.rule_metrics(b.tenant, w.start, end, **b.scope.as_dict())
    spent: Decimal = m["cost_usd"]
    projected = None
    if w.end is not None and now > w.start:
        projected = (spent * Decimal((w.end - w.start) / _US) / Decimal((now - w.start) / _US)).quantize(
            Decimal("0.01"))
    return BudgetStatus(b, w.start, w.end, spent, spent / b.limit_usd, m["runs"], m["unpriced_runs"], projected)


def _budget(wh: Any, b: Budget, now: dt.datetime, state: dict[str, Any],
            sender: Sender) -> tuple[Outcome, dict[str, Any]]:
    bs = budget_status(wh, b, now)
    frac, spent = bs.fraction, bs.spent_usd
    start_us = _us(bs.start)
    st = state["budgets"].get(b.name) or {}
    notified = [Decimal(x) for x in st.get("notified", [])]
    if bs.end is not None and st.get("window_start_us") != start_us:
        notified = []  # a new calendar window: every threshold is armed again
    if bs.end is None:
        notified = [t for t in notified if frac >= t]  # fell back below: armed again
    crossed = [t for t in b.thresholds if frac >= t and t not in notified]
    sent: list[dict[str, Any]] = []
    if crossed:
        top = max(crossed)
        what = "reached its limit" if top >= 1 else f"passed {_pct(top)} of its limit"
        title = f"[invlog] budget {b.name!r} ({b.tenant}) {what}"
        enforce = " New runs are refused (enforced)." if b.enforce and frac >= 1 else ""
        body = (f"Tenant {b.tenant}, scope {b.scope.describe()}: {bs.summary}. Threshold {_pct(top)} "
                f"= {money(b.limit_usd * top)}.{enforce}\n{dashboard_link(b.tenant)}")
        if _notify(sender, b.notify, title, body, "failure" if top >= 1 else "warning", f"threshold {top}", sent):
            notified = sorted({*notified, *crossed})
    state["budgets"][b.name] = {"window_start_us": start_us, "notified": [str(t) for t in notified]}
    row = {"name": b.name, "scope": b.scope.as_dict(), "period": b.period, "hours": b.hours,
           "window_start_us": start_us, "window_end_us": None if bs.end is None else _us(bs.end),
           "limit_usd": str(b.limit_usd), "spent_usd": str(spent), "runs": bs.runs,
           "unpriced_runs": bs.unpriced_runs, "enforce": b.enforce, "warn_at": [str(x) for x in b.warn_at]}
    return Outcome("budget", b.tenant, b.name, spent, b.limit_usd, frac >= 1, bs.summary, sent), row


def _metric(a: Alert, m: dict[str, Any]) -> Any:
    if a.metric == "reconciliation_difference_usd":
        return m["value"]
    if a.metric == "cost":
        return m["cost_usd"]
    if a.metric == "error_rate":
        return None if not m["runs"] else Decimal(m["errors"]) / Decimal(m["runs"])
    if a.metric == "p95_latency_ms":
        return None if m["p95_latency_ms"] is None else Decimal(str(round(m["p95_latency_ms"], 3)))
    return Decimal(m[a.metric])


def shown(a: Alert, v: Any) -> str:
    """An alert's value as its metric reads: money, a percentage, milliseconds or a count."""
    if v is None:
        return "no data"
    if a.metric in ("cost", "reconciliation_difference_usd"):
        return money(v)
    if a.metric == "error_rate":
        return _pct(v)
    if a.metric == "p95_latency_ms":
        return f"{v:,.0f} ms"
    return f"{int(v):,}"


@dataclass(frozen=True)
class AlertStatus:
    alert: Alert
    value: Any
    runs: int
    firing: bool
    summary: str


def _reconciliation(wh: Any, a: Alert, now: dt.datetime) -> dict[str, Any]:
    """The newest reconciliation run per provider kept within the window: the sum of its absolute differences
    (``runs`` counts its day-model rows, for ``min_runs``)."""
    import polars as pl

    from warehouse.reconcile import load_runs

    runs = load_runs(wh.lake, a.tenant)
    if runs.height:
        runs = runs.filter(pl.col("run_at") >= now - dt.timedelta(minutes=a.window_minutes))
    if runs.height == 0:
        return {"runs": 0, "value": None}
    newest = runs.group_by("provider").agg(pl.col("run_id").max())
    rows = runs.join(newest, on=["provider", "run_id"])
    diff = rows["difference_usd"].drop_nulls().abs().sum()
    return {"runs": rows.height, "value": Decimal(diff) if diff is not None else Decimal(0)}


def alert_status(wh: Any, a: Alert, now: dt.datetime) -> AlertStatus:
    if a.metric == "reconciliation_difference_usd":
        m = _reconciliation(wh, a, now)
    else:
        m = wh.rule_metrics(a.tenant, now - dt.timedelta(minutes=a.window_minutes), now + _US, **a.scope.as_dict())
    value = _metric(a, m)
    enough = m["runs"] >= a.min_runs
    firing = bool(enough and value is not None and value > a.above)
    judged = "" if enough else f" (fewer than min_runs = {a.min_runs:,} runs: not judged)"
    summary = (f"{a.metric} {shown(a, value)} over the last {a.window_minutes} min, threshold above "
               f"{shown(a, a.above)}, {m['runs']:,} runs{judged}")
    return AlertStatus(a, value, m["runs"], firing, summary)


def _alert(wh: Any, a: Alert, now: dt.datetime, state: dict[str, Any], sender: Sender) -> Outcome:
    s = alert_status(wh, a, now)
    st = state["alerts"].get(a.name) or {}
    was = bool(st.get("notified_firing", False))
    sent: list[dict[str, Any]] = []
    if s.firing != was:
        word = "firing" if s.firing else "resolved"
        title = f"[invlog] alert {a.name!r} ({a.tenant}) {word}"
        body = f"Tenant {a.tenant}, scope {a.scope.describe()}: {s.summary}.\n{dashboard_link(a.tenant)}"
        if _notify(sender, a.notify, title, body, "failure" if s.firing else "success", word, sent):
            was = s.firing
    since = st.get("since_us") if bool(st.get("firing")) == s.firing and st.get("since_us") else _us(now)
    state["alerts"][a.name] = {"firing": s.firing, "notified_firing": was, "since_us": since,
                               "value": None if s.value is None else str(s.value), "runs": s.runs,
                               "checked_at_us": _us(now), "summary": s.summary}
    return Outcome("alert", a.tenant, a.name, s.value, a.above, s.firing, s.summary, sent)
