"""What the budget checker keeps in the lake, per tenant, under ``_meta/tenant=<t>/``.

``budgets.json``: each budget's spend in its current window and the instant it was computed
(``computed_at_us``), its limit and whether it is enforced. The recorder reads only this file
to refuse runs past an enforced limit (so it never needs DuckDB), adding its own spend since
``computed_at_us``. ``alerts.json``: which thresholds of which window have been notified, each
alert's firing state, and the last ``HISTORY`` notifications (so a restarted checker does not
notify again). Both are small JSON objects written whole (atomically: a reader sees the old
or the new one). Amounts are decimal strings; times are UTC microseconds.
"""

from __future__ import annotations

import json
from typing import Any

from invlog.lake import Lake
from invlog.lake.layout import meta_path

VERSION = 1
HISTORY = 500
BUDGETS_FILE = "budgets.json"
ALERTS_FILE = "alerts.json"


def budgets_path(tenant: str) -> str:
    return meta_path(tenant, BUDGETS_FILE)


def alerts_path(tenant: str) -> str:
    return meta_path(tenant, ALERTS_FILE)


def _read(lake: Lake, rel: str) -> dict[str, Any] | None:
    if not lake.exists(rel):
        return None
    doc = json.loads(lake.read(rel))
    if not isinstance(doc, dict) or doc.get("version") != VERSION:
        raise ValueError(f"{lake.uri(rel)}: not a version-{VERSION} state object")
    return doc


def read_budgets(lake: Lake, tenant: str) -> dict[str, Any] | None:
    """The tenant's budget spend as last computed, or None if no check has written it."""
    return _read(lake, budgets_path(tenant))


def write_budgets(lake: Lake, tenant: str, computed_at_us: int, budgets: list[dict[str, Any]]) -> None:
    doc = {"version": VERSION, "computed_at_us": computed_at_us, "budgets": budgets}
    lake.put(budgets_path(tenant), json.dumps(doc, sort_keys=True).encode())


def read_alerts(lake: Lake, tenant: str) -> dict[str, Any]:
    """Notified thresholds, alert states and history; empty ones when nothing was written yet."""
    doc = _read(lake, alerts_path(tenant)) or {}
    return {"version": VERSION, "budgets": doc.get("budgets", {}), "alerts": doc.get("alerts", {}),
            "history": doc.get("history", [])}


def write_alerts(lake: Lake, tenant: str, doc: dict[str, Any]) -> None:
    doc = {**doc, "version": VERSION, "history": doc.get("history", [])[-HISTORY:]}
    lake.put(alerts_path(tenant), json.dumps(doc, sort_keys=True).encode())
