"""Hard limits: ``agent.run()`` refuses a run once an enforced budget's spend has reached its limit.

The spend comes from the state the budget checker keeps in the lake (``invlog.rules.state``:
each budget's spend in its window and the instant ``computed_at`` it was computed), read once
per tenant on first use and refreshed in the background every ``refresh`` seconds, plus this
process's own recorded spend since ``computed_at``. So the check is a dictionary lookup and a
few comparisons: microseconds, no I/O, no DuckDB. When a calendar window ends before the
checker has written the next one, the cached spend is dropped and only this process's spend
in the new window counts. If the state cannot be read, runs go on and the failure is logged
(recording never breaks a run for any reason but an enforced limit).

Overshoot is bounded, not zero: a budget can be exceeded by the runs in flight when it is
reached, plus what other processes spent between the checker's last computation and this
process's next refresh (at most the checker's interval plus ``refresh`` plus the recorders'
publish interval), plus this process's runs that ended shortly before ``computed_at`` and
were not yet in the lake (at most its publish interval). docs/budgets.md states the same.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import threading
import time
from decimal import Decimal
from typing import Any

from invlog.lake import Lake
from invlog.rules import state as rstate
from invlog.rules.periods import window

log = logging.getLogger("invocation_logs")
RECENT_SECONDS = 900  # this process's runs kept to rebuild its spend after a refresh
RECENT_MAX = 200_000
_ZERO = Decimal(0)


class BudgetExceeded(RuntimeError):
    """An enforced budget has reached its limit: the run was refused before the model was called."""

    def __init__(self, budget: str, tenant: str, spent_usd: Decimal, limit_usd: Decimal, period: str):
        self.budget, self.tenant, self.spent_usd, self.limit_usd, self.period = (budget, tenant, spent_usd,
                                                                               limit_usd, period)
        super().__init__(f"budget {budget!r} of tenant {tenant!r} is spent: ${spent_usd} of ${limit_usd} "
                         f"this {period}; new runs are refused until the next period or a higher limit")


class _Budget:
    __slots__ = ("agent", "cached_picos", "computed_at_us", "hours", "limit_picos", "limit_usd", "local_picos",
                 "model", "name", "period", "user_id", "window_end_us", "window_start_us")

    def __init__(self, row: dict[str, Any], computed_at_us: int):
        scope = row.get("scope") or {}
        self.name: str = row["name"]
        self.agent, self.model, self.user_id = scope.get("agent"), scope.get("model"), scope.get("user_id")
        self.period, self.hours = row.get("period"), row.get("hours")
        self.limit_usd = Decimal(row["limit_usd"])
        self.limit_picos = int(self.limit_usd.scaleb(12))
        self.cached_picos = int(Decimal(row["spent_usd"]).scaleb(12))
        self.window_start_us: int = row["window_start_us"]
        self.window_end_us: int | None = row.get("window_end_us")
        self.computed_at_us = computed_at_us
        self.local_picos = 0

    def matches(self, agent: str, model: str, user_id: str | None) -> bool:
        return ((self.agent is None or self.agent == agent) and (self.model is None or self.model == model)
                and (self.user_id is None or self.user_id == user_id))


class BudgetGuard:
    """One per recorder: enforced budgets per tenant, cached; ``check`` raises ``BudgetExceeded``."""

    def __init__(self, lake: Lake, refresh: float = 10.0):
        self.lake = lake
        self.refresh = refresh
        self._tenants: dict[str, list[_Budget]] = {}
        self._loaded: dict[str, float] = {}
        self._recent: collections.deque[tuple[str, int, str, str, str | None, int]] = collections.deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._last_log = 0.0

    # ---- the hot path ------------------------------------------------------
    def check(self, tenant: str, agent: str, model: str, user_id: str | None, now_us: int | None = None) -> None:
        budgets = self._tenants.get(tenant)
        if budgets is None:
            budgets = self._load(tenant)  # once per tenant and process; later refreshes run in the background
        elif time.monotonic() - self._loaded.get(tenant, 0.0) > self.refresh:
            self._refresh_soon()
        if not budgets:
            return
        now_us = time.time_ns() // 1000 if now_us is None else now_us
        for b in budgets:
            if not b.matches(agent, model, user_id):
                continue
            if b.window_end_us is not None and now_us >= b.window_end_us:
                self._roll_over(tenant, b, now_us)
            spent = b.cached_picos + b.local_picos
            if spent >= b.limit_picos:
                period = f"{b.hours} h" if b.hours else str(b.period)
                raise BudgetExceeded(b.name, tenant, Decimal(spent).scaleb(-12).normalize(), b.limit_usd, period)

    def observe(self, tenant: str, agent: str, model: str, user_id: str | None, end_us: int,
                cost_picos: int | None) -> None:
        """A run this process recorded (its known cost; unpriced runs count as they do in the lake: not)."""
        if not cost_picos:
            return
        with self._lock:
            self._recent.append((tenant, end_us, agent, model, user_id, cost_picos))
            while self._recent and (len(self._recent) > RECENT_MAX
                                    or self._recent[0][1] < end_us - RECENT_SECONDS * 1_000_000):
                self._recent.popleft()
            for b in self._tenants.get(tenant) or ():
                if end_us >= b.computed_at_us and b.matches(agent, model, user_id):
                    b.local_picos += cost_picos

    # ---- the cache -------------------------------------------------------------
    def _load(self, tenant: str) -> list[_Budget]:
        try:
            doc = rstate.read_budgets(self.lake, tenant)
        except Exception as exc:  # unreadable state: runs go on, said at most once a minute
            self._say(f"budgets of tenant {tenant!r} cannot be read ({type(exc).__name__}: {exc}); runs are not "
                      "limited until they can")
            doc = None
            budgets = self._tenants.get(tenant, [])
        else:
            budgets = []
            if doc is not None:
                at = int(doc["computed_at_us"])
                budgets = [_Budget(row, at) for row in doc.get("budgets", []) if row.get("enforce")]
        with self._lock:
            for b in budgets:
                b.local_picos = sum(c for t, end, a, m, u, c in self._recent
                                    if t == tenant and end >= b.computed_at_us and b.matches(a, m, u))
            self._tenants[tenant] = budgets
            self._loaded[tenant] = time.monotonic()
        return budgets

    def _roll_over(self, tenant: str, b: _Budget, now_us: int) -> None:
        """The cached window is over and the checker has not written the next one: start it from zero
        plus this process's spend in it."""
        w = window(b.period, None, dt.datetime.fromtimestamp(now_us / 1e6, dt.UTC))
        start = int(w.start.timestamp() * 1_000_000)
        with self._lock:
            b.window_start_us, b.window_end_us = start, int(w.end.timestamp() * 1_000_000) if w.end else None
            b.cached_picos, b.computed_at_us = 0, start
            b.local_picos = sum(c for t, end, a, m, u, c in self._recent
                                if t == tenant and end >= start and b.matches(a, m, u))

    def _refresh_soon(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            for t in self._loaded:  # no second thread while this one runs
                self._loaded[t] = time.monotonic()
            self._thread = threading.Thread(target=self._refresh_all, name="invlog-budgets", daemon=True)
            self._thread.start()

    def _refresh_all(self) -> None:
        for tenant in list(self._tenants):
            self._load(tenant)

    def _say(self, msg: str) -> None:
        now = time.monotonic()
        if now - self._last_log >= 60:
            self._last_log = now
            log.warning("%s", msg)
