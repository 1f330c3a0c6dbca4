"""Who may see which tenants, from server-side configuration only.

``.streamlit/secrets.toml`` (see ``secrets.example.toml``)::

    [access]
    local_user = ["*"]                 # without login: the one local user sees these ("*": all)
    [access.users]
    "alice@example.com" = ["acme"]     # with st.login (an [auth] section): per-user tenants

Without an ``[auth]`` section the dashboard runs as the embedded default: one
local user who sees ``access.local_user`` (every tenant if unset). With ``[auth]``
configured, visitors must log in (OIDC via ``st.login``) and see only the tenants
listed for their e-mail. Nothing in the URL or session state can widen this.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st


def _secrets() -> Mapping[str, Any]:
    try:
        return st.secrets.to_dict()
    except Exception:  # no secrets file at all: the embedded default
        return {}


def login_required() -> bool:
    return "auth" in _secrets()


def current_user() -> str:
    if not login_required():
        return "local"
    if not getattr(st.user, "is_logged_in", False):
        return ""
    return str(st.user.get("email") or "")


def allowed_tenants(lake_tenants: list[str]) -> list[str]:
    """The lake's tenants that the current user may see."""
    access = _secrets().get("access", {})
    if not login_required():
        grant = list(access.get("local_user", ["*"]))
    else:
        user = current_user()
        grant = list(access.get("users", {}).get(user, [])) if user else []
    if "*" in grant:
        return sorted(lake_tenants)
    return sorted(t for t in lake_tenants if t in set(grant))


def require_login() -> None:
    """Stop the page with a login button when login is configured and nobody is logged in."""
    if login_required() and not getattr(st.user, "is_logged_in", False):
        st.title("Invocation Logs")
        st.info("Please log in to see your tenants' invocations.")
        st.button("Log in", on_click=st.login, type="primary")
        st.stop()
