"""Page state in the URL's query parameters, so any view can be linked and shared.

The tenant is checked against the user's allowed tenants on every run: a URL (or
session state) naming a foreign tenant gets "access denied", never its data.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import streamlit as st

from invlog.dashboard import access, data
from invlog.dashboard.fmt import TIMEZONES
from warehouse.errors import CorruptPartError

log = logging.getLogger("invlog.dashboard")
NAV = [("pages/overview.py", "Overview"), ("pages/cost_trends.py", "Cost trends"), ("pages/agents.py", "Agents"),
       ("pages/invocations.py", "Invocations"), ("pages/trace.py", "Trace"), ("pages/sessions.py", "Sessions"),
       ("pages/users.py", "Users"), ("pages/reports.py", "Reports"),
       ("pages/caching.py", "Prompt caching"), ("pages/reconciliation.py", "Reconciliation"),
       ("pages/budgets.py", "Budgets & alerts")]


def param(name: str, default: str | None = None) -> str | None:
    value = st.query_params.get(name)
    return value if value not in (None, "") else default


def set_params(**values: Any) -> None:
    for k, v in values.items():
        if v in (None, ""):
            if k in st.query_params:
                del st.query_params[k]
        else:
            st.query_params[k] = str(v)


def date_param(name: str, default: dt.date) -> dt.date:
    try:
        return dt.date.fromisoformat(param(name) or "")
    except ValueError:
        return default


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def sidebar() -> tuple[str, str]:
    """Gate, tenant and time zone pickers; returns (tenant, tz). Stops the page when there is nothing to show."""
    # Each page sets the wide layout itself: with st.navigation, the entry script's page config does not carry
    # over to the page (measured: the main block stayed 736 px wide at any window width).
    st.set_page_config(layout="wide")
    identity = access.gate()
    st.session_state["_invlog_identity"] = identity
    where = f" at {data.lake_url()}" if identity.local else ""  # no server paths for logged-in visitors
    try:
        lake_tenants = data.tenants(data.lake_url())
    except Exception as exc:  # an unreachable lake: say so, no traceback
        log.exception("cannot read the lake")
        st.error(f"Cannot read the lake{where}: {exc}" if identity.local else
                 "Cannot read the lake right now. The server log has the details.")
        access.logout_button(identity)
        st.stop()
    allowed = access.allowed_tenants(identity, lake_tenants)
    wanted = param("tenant")
    if wanted is not None and wanted not in allowed:
        _nav({})  # the way on stays: another page, another tenant
        grant = identity.config.grant(None if identity.local else identity.email)
        if wanted not in lake_tenants and ("*" in grant or wanted in grant):
            # granted, but nothing recorded yet: say so (a tenant the user may not see is "denied" either way,
            # so this tells nobody whether another tenant exists)
            st.info(f"Tenant {wanted!r} has no runs in this lake yet. Runs recorded for it appear here within "
                    "seconds." + (" Pick another tenant in the sidebar." if allowed else ""))
        else:
            st.error(f"Access denied: you cannot see tenant {wanted!r}." + (
                " Pick one of your tenants in the sidebar." if allowed else " Ask an administrator for access."))
        access.logout_button(identity)
        if allowed:
            st.sidebar.selectbox("Tenant", allowed, index=None, placeholder="Your tenants", key="invlog-denied-pick",
                                 on_change=_pick_tenant)
        st.stop()
    if not allowed and not lake_tenants and identity.local:
        _nav({})
        st.info(f"The lake{where} has no invocations yet. Record some with `agent.run()`, or run "
                "`make run`, which records demo data into an empty lake.")
        st.stop()
    if not allowed:
        _nav({})
        st.warning("Your account has no tenants with data. Ask an administrator to grant access in the "
                   "dashboard's secrets.")
        access.logout_button(identity)
        st.stop()
    tenant = st.sidebar.selectbox("Tenant", allowed, index=allowed.index(wanted) if wanted in allowed else 0)
    _nav({"tenant": tenant, **({"tz": param("tz")} if param("tz") else {})})
    tz = param("tz", "UTC")
    tz = st.sidebar.selectbox("Time zone", TIMEZONES, index=TIMEZONES.index(tz) if tz in TIMEZONES else 0,
                              help="Times are shown in this zone; days and hours are bucketed in UTC.")
    set_params(tenant=tenant, tz=None if tz == "UTC" else tz)
    st.sidebar.caption(f"Lake: `{data.lake_url()}` · local user" if identity.local
                       else f"Signed in as {identity.email}")
    access.logout_button(identity)
    return tenant, tz


def _nav(keep: dict[str, str]) -> None:
    """The sidebar's page links (carrying the tenant and time zone along)."""
    with st.sidebar:
        st.markdown("### Invocation Logs")
        for path, label in NAV:
            st.page_link(path, label=label, query_params=keep)
        st.divider()


def _pick_tenant() -> None:
    st.query_params["tenant"] = st.session_state["invlog-denied-pick"]


def metric_row(items: list[tuple[str, str] | tuple[str, str, str | None]], key: str | None = None) -> None:
    """Metrics as wide as their values in one row that wraps when the window is narrow: a value is never cut
    off (fixed columns cut "$0.000864" to "$0.00…" at 1280 px). Items: (label, value) or (label, value, help)."""
    with st.container(horizontal=True, gap="large", key=key):
        for item in items:
            st.metric(item[0], item[1], help=item[2] if len(item) > 2 else None, width="content")


def identity() -> access.Identity:
    """The identity the page's ``sidebar()`` admitted on this run."""
    return st.session_state["_invlog_identity"]


def download_button(where: Any, label: str, make: Any, *, file_name: str, mime: str, key: str) -> None:
    """A download whose file is built on click, only for a live session, and served only to it."""
    where.download_button(label, access.download(identity(), make, file_name, mime), file_name=file_name, mime=mime,
                          key=key, on_click="ignore")


DEFAULT_DAYS = 30  # one default period on every page (the last 30 UTC days), shown in its date picker


def period(default_days: int = DEFAULT_DAYS, key: str = "period") -> tuple[dt.date, dt.date]:
    end_default = today()
    start = date_param("from", end_default - dt.timedelta(days=default_days - 1))
    end = date_param("to", end_default)
    picked = st.date_input("Period (UTC days)", (start, end), key=key, max_value=end_default + dt.timedelta(days=1))
    if isinstance(picked, tuple | list) and len(picked) == 2:
        start, end = picked
    if start > end:
        start, end = end, start
    set_params(**{"from": start.isoformat(), "to": end.isoformat()})
    return start, end


def guarded(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a data call; show a clear message (not a traceback) when the lake has a bad file."""
    try:
        return fn(*args, **kwargs)
    except CorruptPartError as exc:
        st.error("Some of this tenant's data cannot be read, so totals would be incomplete:\n\n"
                 + "\n".join(f"- `{p}`" for p in exc.paths)
                 + "\n\nRun `python -m warehouse verify` to find and quarantine bad files.")
        st.stop()
    except ValueError as exc:
        st.error(str(exc))
        st.stop()
