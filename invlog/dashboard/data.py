"""The warehouse and its queries, cached for the dashboard.

One ``Warehouse`` per lake and process, created on first use (by the server's warm-up,
``invlog.dashboard.warmup``, or the first page), never at import. Query results are
cached for ``TTL`` seconds (``st.cache_data``), so a page rerun or a second visitor
does not query again; frames are small (the queries aggregate or paginate, nothing
sends all rows to the browser).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from typing import Any

import polars as pl
import streamlit as st

from invlog.lake.layout import tenant_path
from warehouse import Warehouse

TTL = 30


def lake_url() -> str:
    return os.environ.get("INVLOG_LAKE") or "./data/lake"


_OPEN: dict[str, Warehouse] = {}
_OPEN_LOCK = threading.Lock()


def warehouse(url: str) -> Warehouse:
    with _OPEN_LOCK:  # the warm-up thread and the first page may ask at once: one Warehouse
        found = _OPEN.get(url)
        if found is None:
            found = _OPEN[url] = Warehouse(url)
        return found


def wh() -> Warehouse:
    return warehouse(lake_url())


@st.cache_data(ttl=TTL, show_spinner=False)
def tenants(url: str) -> list[str]:
    return warehouse(url).tenants()


@st.cache_data(ttl=TTL, show_spinner=False)
def tenant_totals(url: str, tenant: str, minute: str) -> pl.DataFrame:
    del minute  # part of the cache key: totals are refreshed at least every minute
    return warehouse(url).tenant_totals(tenant)


@st.cache_data(ttl=TTL, show_spinner=False)
def cost_trend(url: str, tenant: str, start: dt.date, end: dt.date, grain: str, split: str | None) -> pl.DataFrame:
    return warehouse(url).cost_trend(tenant, start, end, grain=grain, split_by=split)


@st.cache_data(ttl=TTL, show_spinner=False)
def expensive_agents(url: str, tenant: str, start: dt.date, end: dt.date, top_n: int) -> pl.DataFrame:
    return warehouse(url).expensive_agents(tenant, start, end, top_n=top_n)


@st.cache_data(ttl=TTL, show_spinner=False)
def invocations(url: str, tenant: str, start: dt.date, end: dt.date, filters: tuple[tuple[str, Any], ...],
                sort: str, limit: int, offset: int) -> tuple[pl.DataFrame, int]:
    return warehouse(url).invocations(tenant, start, end, **dict(filters), sort=sort, limit=limit, offset=offset)


@st.cache_data(ttl=TTL, show_spinner=False)
def trace(url: str, tenant: str, invocation_id: str) -> dict[str, Any] | None:
    return warehouse(url).trace(tenant, invocation_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def spend_report(url: str, tenant: str, start: dt.date, end: dt.date, hour: str) -> Any:
    del hour  # cache key: month-to-date figures move with the clock
    return warehouse(url).spend_report(tenant, start, end)


def read_attachment(tenant: str, uri: str) -> bytes:
    """An attachment's mirrored bytes, only from this tenant's attachment folder of this lake."""
    lake = wh().lake
    prefix = lake.uri(tenant_path("attachments", tenant)).rstrip("/") + "/"
    if not uri.startswith(prefix) or ".." in uri[len(prefix):]:
        raise ValueError("attachment is not in this tenant's folder of the lake")
    return lake.read(uri[len(lake.uri("").rstrip("/")) + 1 :])


@st.cache_data(ttl=10, show_spinner=False)
def rules_view(url: str, tenant: str, minute: str) -> dict[str, Any]:
    """The tenant's budgets and alerts evaluated now, the checker's state and history, and whether the rules
    file can be edited here (it is the lake's own). A bad rules file is an ``error``, not an exception."""
    del minute  # cache key: refreshed every minute at least
    from invlog.rules import RulesError, load_rules
    from invlog.rules import state as rstate
    from invlog.rules.config import rules_location
    from warehouse import alerts

    wh = warehouse(url)
    now = dt.datetime.now(dt.UTC)
    editable = rules_location(wh.lake)[0] is None
    try:
        rules = load_rules(wh.lake).for_tenant(tenant)
    except RulesError as exc:
        return {"error": str(exc), "budgets": [], "alerts": [], "state": rstate.read_alerts(wh.lake, tenant),
                "editable": editable}
    return {"error": None, "editable": editable, "state": rstate.read_alerts(wh.lake, tenant),
            "budgets": [alerts.budget_status(wh, b, now) for b in rules.budgets],
            "alerts": [alerts.alert_status(wh, a, now) for a in rules.alerts]}


def rules_text(tenant: str) -> str:
    """The TOML of this tenant's own rules in the lake's rules file (for its admins to edit)."""
    from invlog.rules.config import LAKE_RULES
    from invlog.rules.edit import tenant_text

    lake = wh().lake
    return tenant_text(lake.read(LAKE_RULES).decode("utf-8"), tenant) if lake.exists(LAKE_RULES) else ""


def save_rules(tenant: str, edited: str) -> None:
    from invlog.rules.edit import save_tenant

    save_tenant(wh().lake, tenant, edited)
    rules_view.clear()


@st.cache_data(ttl=TTL, show_spinner=False)
def cache_economics(url: str, tenant: str, start: dt.date, end: dt.date, group_by: str) -> pl.DataFrame:
    return cache_breakdowns(url, tenant, start, end)[group_by]


@st.cache_data(ttl=TTL, show_spinner=False)
def cache_breakdowns(url: str, tenant: str, start: dt.date, end: dt.date) -> dict[str, pl.DataFrame]:
    """Every grouping of the period's cache economics, priced once."""
    return warehouse(url).cache_breakdowns(tenant, start, end)


@st.cache_data(ttl=TTL, show_spinner=False)
def reconciliation_runs(url: str, tenant: str) -> pl.DataFrame:
    from warehouse.reconcile import load_runs

    return load_runs(warehouse(url).lake, tenant)


@st.cache_data(ttl=TTL, show_spinner=False)
def users(url: str, tenant: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    return warehouse(url).users(tenant, start, end)


@st.cache_data(ttl=TTL, show_spinner=False)
def sessions(url: str, tenant: str, start: dt.date, end: dt.date, user_id: str | None) -> pl.DataFrame:
    return warehouse(url).sessions(tenant, start, end, user_id=user_id)


@st.cache_data(ttl=TTL, show_spinner=False)
def daily_activity(url: str, tenant: str, start: dt.date, end: dt.date) -> pl.DataFrame:
    return warehouse(url).daily_activity(tenant, start, end)
