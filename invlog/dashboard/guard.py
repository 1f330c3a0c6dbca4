"""HTTP guard in front of the Streamlit server: downloads only to their owner, no server internals.

Streamlit serves generated files (report and attachment downloads) at
``/media/<id>.<ext>`` to anyone who has the URL, and publishes ``/_stcore/metrics``
to everyone. ``app.py`` mounts this ASGI middleware in front of the server. With
login configured, a media file is served only to a request whose Streamlit
identity cookie belongs to a live dashboard session (``invlog.dashboard.sessions``) that
generated that file within the last few minutes; anything else gets 404. The
metrics and agent endpoints answer 404 unless the dashboard runs in local mode
on a loopback address. An access configuration that does not validate fails
closed: no media, no metrics. The guard reads only the request line and
cookies; it never buffers a body.
"""

from __future__ import annotations

import logging
from typing import Any

from invlog.dashboard import access_config
from invlog.dashboard.sessions import STORE, session_key

log = logging.getLogger("invlog.dashboard")
_HIDDEN = ("_stcore/metrics", "_stcore/agent")


def _base() -> str:
    from streamlit import config

    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"/{base}/" if base else "/"


def _login_mode() -> bool | None:
    """True with login, False in local mode, None when the configuration is invalid (fail closed)."""
    from streamlit import config

    try:
        return access_config.load(config.get_option("secrets.files")).login
    except access_config.AccessConfigError as exc:
        log.error("access configuration invalid, refusing downloads: %s", exc)
        return None


def _request_key(scope: dict[str, Any]) -> str | None:
    """The session key of the identity in the request's signed Streamlit cookie, if any."""
    import json

    from starlette.requests import Request
    from streamlit.web.server.starlette import starlette_auth_routes as auth
    from streamlit.web.server.starlette.starlette_server_config import USER_COOKIE_NAME

    try:
        raw = auth._get_cookie_value_from_request(Request(scope), USER_COOKIE_NAME)
        return session_key(json.loads(raw)) if raw else None
    except Exception:  # a forged, truncated or re-signed cookie is simply no identity
        return None


async def _not_found(send: Any) -> None:
    await send({"type": "http.response.start", "status": 404,
                "headers": [(b"content-type", b"text/plain"), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": b"Not found"})


class DashboardGuard:
    """ASGI middleware: ``st.App(..., middleware=[Middleware(DashboardGuard)])``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            base = _base()
            path = scope.get("path", "")
            rel = path[len(base):] if path.startswith(base) else None
            if rel is not None and rel.startswith(_HIDDEN):
                from invlog.dashboard.access import bound_to_loopback

                if _login_mode() is not False or not bound_to_loopback():
                    return await _not_found(send)
            elif rel is not None and rel.startswith("media/"):
                mode = _login_mode()
                if mode is None:
                    return await _not_found(send)
                if mode:
                    file_id = rel[len("media/"):].split("/")[0].split(".")[0]
                    if not STORE.may_fetch(file_id, _request_key(scope)):
                        return await _not_found(send)
        await self.app(scope, receive, send)
