"""Who may see which tenants: the gate every page passes first, failing closed.

``.streamlit/secrets.toml`` (see ``secrets.example.toml``)::

    [access]
    local_user = ["*"]                 # without login: the one local user sees these ("*": all)
    [access.users]
    "alice@example.com" = ["acme"]     # with st.login (an [auth] section): per-user tenants

``gate()`` runs at the top of every page. A secrets file that does not parse,
an incomplete ``[auth]`` or an unknown ``[access]`` key stops the page with the
file and line (``invlog.dashboard.access_config``), re-checked on every run. Without
``[auth]`` (local mode) the dashboard must be bound to a loopback address,
unless ``INVLOG_UNSAFE_NO_LOGIN=1`` says otherwise, and then every page says
who can see what. With ``[auth]``, visitors log in through OIDC; the provider
must assert ``email_verified`` (unless ``require_verified_email = false``, which
is unsafe), e-mails are compared case-insensitively, and each login is bound
by a server-side session (``invlog.dashboard.sessions``) that logout and expiry end. Nothing
in the URL or session state can widen a user's tenants.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import os
from collections.abc import Callable
from typing import Any

import streamlit as st

from invlog.dashboard import access_config
from invlog.dashboard.access_config import AccessConfig, AccessConfigError, normalise_email
from invlog.dashboard.sessions import STORE, session_key

UNSAFE_ENV = "INVLOG_UNSAFE_NO_LOGIN"
log = logging.getLogger("invlog.dashboard")
_stamp: tuple[tuple[str, int], ...] | None = None  # the secrets files' contents seen last, process-wide


@dataclasses.dataclass(frozen=True)
class Identity:
    email: str  # normalised; "local" without login
    key: str | None  # the server-side session key (None in local mode)
    config: AccessConfig

    @property
    def local(self) -> bool:
        return not self.config.login


def _secrets() -> dict[str, Any]:
    from streamlit.errors import StreamlitSecretNotFoundError

    try:
        return st.secrets.to_dict()
    except StreamlitSecretNotFoundError as exc:
        if getattr(exc, "error_id", None) == "no-secrets-found" or "No secrets found" in str(exc):
            return {}  # no secrets file at all: local mode
        raise AccessConfigError(str(exc)) from exc


def load_config() -> AccessConfig:
    """The validated configuration; raises ``AccessConfigError``.

    Our own parse of the files is the source of truth (Streamlit caches its copy, and without a file
    watcher would keep serving a stale one); when they change, Streamlit's copy is reset so ``st.login``
    follows too. Without any file, the secrets Streamlit was given (``AppTest``, ``st.App(secrets=)``) count.
    """
    global _stamp
    files = access_config.FILES.read(st.config.get_option("secrets.files"))
    if not files:
        return access_config.parse(_secrets())
    stamp = tuple((p, hash(t)) for p, t, _ in files)
    if _stamp is not None and _stamp != stamp:
        st.secrets._reset()  # a file changed under a running server: make st.secrets (and st.login) re-read it
    _stamp = stamp
    return access_config.load(st.config.get_option("secrets.files"))  # the files just read, from the cache


def bound_to_loopback() -> bool:
    addr = st.config.get_option("server.address")
    if not addr:
        return False  # unset: Streamlit listens on every interface
    if addr == "localhost":
        return True
    try:
        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False  # a host name: it could resolve to anything


def _stop_with(message: str) -> None:
    st.title("Invocation Logs")
    st.error(message)
    st.stop()


def gate() -> Identity:
    """Run first on every page: validate the configuration, the bind address and the login."""
    try:
        cfg = load_config()
    except AccessConfigError as exc:
        log.error("access configuration invalid, serving no tenant data: %s", exc)
        _stop_with(f"The dashboard's access configuration is invalid, so no tenant data is shown.\n\n{exc}\n\n"
                   "Fix the file; every page load checks it again.")
        raise  # unreachable: st.stop() raises
    if not cfg.login:
        return _local(cfg)
    if not getattr(st.user, "is_logged_in", False):
        st.title("Invocation Logs")
        st.info("Please log in to see your tenants' invocations.")
        st.button("Log in", on_click=st.login, type="primary")
        st.stop()
    claims = st.user.to_dict()
    email = normalise_email(str(claims.get("email") or ""))
    verified = claims.get("email_verified") in (True, "true", "True")
    if cfg.require_verified_email and not verified:
        st.title("Invocation Logs")
        st.error("Your identity provider did not confirm that this e-mail address is verified, so it grants no "
                 "tenants. Ask an administrator.")
        _logout_button(session_key(claims), where=st)
        st.stop()
    ok, reason = STORE.check(claims, max_age=cfg.session_hours * 3600, idle=cfg.idle_minutes * 60)
    if not ok:
        st.title("Invocation Logs")
        st.warning(f"Please log in again: {reason}.")
        st.button("Log in", on_click=st.login, type="primary")
        st.stop()
    return Identity(email, session_key(claims), cfg)


def _local(cfg: AccessConfig) -> Identity:
    if not bound_to_loopback():
        addr = st.config.get_option("server.address") or "every network interface"
        if os.environ.get(UNSAFE_ENV) != "1":
            _stop_with(f"This dashboard is served on {addr} without login, so anyone who can reach it would see "
                       "every tenant's data. Configure login (an [auth] section in .streamlit/secrets.toml), "
                       f"bind to 127.0.0.1, or set {UNSAFE_ENV}=1 to serve it without login anyway.")
        who = "every tenant" if "*" in cfg.local_user else ", ".join(cfg.local_user)
        st.warning(f"Open dashboard: served on {addr} without login ({UNSAFE_ENV}=1). Anyone who can reach "
                   f"this address sees {who}.", icon="⚠️")
    return Identity("local", None, cfg)


def allowed_tenants(identity: Identity, lake_tenants: list[str]) -> list[str]:
    """The lake's tenants that this identity may see."""
    grant = identity.config.grant(None if identity.local else identity.email)
    if "*" in grant:
        return sorted(lake_tenants)
    return sorted(t for t in lake_tenants if t in set(grant))


def may_administer(identity: Identity, tenant: str) -> bool:
    """Whether this identity may change a tenant's settings (for example its budget rules)."""
    grant = identity.config.admin_grant(None if identity.local else identity.email)
    return "*" in grant or tenant in grant


def logout(key: str | None) -> None:
    STORE.end(key)  # first: even if the browser keeps the cookie, this login is over on the server
    st.logout()


def _logout_button(key: str | None, where: Any) -> None:
    where.button("Log out", on_click=logout, args=(key,), key="invlog-logout")


def logout_button(identity: Identity) -> None:
    if not identity.local:
        _logout_button(identity.key, where=st.sidebar)


def download(identity: Identity, make: Callable[[], bytes], file_name: str, mime: str) -> Callable[[], bytes]:
    """Wrap a download's data callable: run only for a live session, and register the file to its owner."""

    def build() -> bytes:
        if not identity.local and not STORE.active(identity.key):
            raise PermissionError("this login has ended")
        payload = make()
        if not identity.local:
            from streamlit.runtime.memory_media_file_storage import _calculate_file_id

            STORE.register_file(_calculate_file_id(payload, mime, file_name), identity.key)
        return payload

    return build
