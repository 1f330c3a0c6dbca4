"""Invocation Logs dashboard: ``streamlit run app.py`` (or ``make run``).

This one file is both halves of the dashboard. Imported by ``streamlit run``
(which finds the ``st.App`` below), it is the server: Streamlit's ASGI app
behind ``invlog.dashboard.guard.DashboardGuard``, which serves downloads only to the session
that made them and hides the metrics endpoint. Run as the Streamlit script
(``__main__``), it sets up the page and the navigation; each page is a thin
file in ``pages/`` and starts with the access gate (``invlog.dashboard.access``). The lake
comes from ``INVLOG_LAKE`` (default ``./data/lake``); who sees which tenants
comes from ``.streamlit/secrets.toml``. The committed ``.streamlit/config.toml``
binds the server to 127.0.0.1.
"""

import streamlit as st

if __name__ == "__main__":
    st.set_page_config(page_title="Invocation Logs", page_icon="🧾", layout="wide")

    PAGES = [
        st.Page("pages/overview.py", title="Overview", icon="🏠", url_path="overview", default=True),
        st.Page("pages/cost_trends.py", title="Cost trends", icon="📈", url_path="cost_trends"),
        st.Page("pages/agents.py", title="Agents", icon="🤖", url_path="agents"),
        st.Page("pages/invocations.py", title="Invocations", icon="📜", url_path="invocations"),
        st.Page("pages/trace.py", title="Trace", icon="🔎", url_path="trace"),
        st.Page("pages/sessions.py", title="Sessions", icon="💬", url_path="sessions"),
        st.Page("pages/users.py", title="Users", icon="👤", url_path="users"),
        st.Page("pages/reports.py", title="Reports", icon="🧾", url_path="reports"),
        st.Page("pages/caching.py", title="Prompt caching", icon="🧊", url_path="caching"),
        st.Page("pages/reconciliation.py", title="Reconciliation", icon="⚖️", url_path="reconciliation"),
        st.Page("pages/budgets.py", title="Budgets & alerts", icon="🚦", url_path="budgets"),
    ]

    # The sidebar links are drawn by invlog.dashboard.state.sidebar() (they carry the tenant along); hiding the default
    # navigation also keeps Streamlit from listing pages/ by file name before this script has run.
    st.navigation(PAGES, position="hidden").run()
else:
    from starlette.middleware import Middleware

    from invlog.dashboard import warmup
    from invlog.dashboard.guard import DashboardGuard
    from invlog.dashboard.page_html import PageHtml

    app = st.App(__file__, middleware=[Middleware(DashboardGuard), Middleware(PageHtml)])
    warmup.start()  # imports and opens the lake before the first visitor (a fresh server's first load)
