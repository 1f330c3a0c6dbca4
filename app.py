"""Invocation Logs dashboard: ``streamlit run app.py`` (or ``make run``).

The entry point only sets up the page and the navigation; each page is a thin
file in ``pages/``. The lake comes from ``INVLOG_LAKE`` (default ``./data/lake``);
who sees which tenants comes from ``.streamlit/secrets.toml`` (see ``ui.access``).
"""

import streamlit as st

st.set_page_config(page_title="Invocation Logs", page_icon="🧾", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon="🏠", url_path="overview", default=True),
    st.Page("pages/cost_trends.py", title="Cost trends", icon="📈", url_path="cost_trends"),
    st.Page("pages/agents.py", title="Agents", icon="🤖", url_path="agents"),
    st.Page("pages/invocations.py", title="Invocations", icon="📜", url_path="invocations"),
    st.Page("pages/trace.py", title="Trace", icon="🔎", url_path="trace"),
    st.Page("pages/reports.py", title="Reports", icon="🧾", url_path="reports"),
]

# The sidebar links are drawn by ui.state.sidebar() (they carry the tenant along); hiding the default
# navigation also keeps Streamlit from listing pages/ by file name before this script has run.
st.navigation(PAGES, position="hidden").run()
