"""The dashboard's HTML page tells Streamlit's frontend where its server is, so a shared link connects at once.

Loaded at a page's URL (``/overview?tenant=acme``), Streamlit's frontend does not know
the server's base path: it asks ``/overview/_stcore/health`` first, gets a 404, waits
its retry period and only then asks ``/_stcore/health`` (about 0.12 s of every full load
of a deep link, measured in chromium). Its page already loads its scripts from
``./static/...``, relative to the document, so the base is ``new URL(".", location)``;
this ASGI middleware sets exactly that as ``window.__streamlit.BACKEND_BASE_URL`` (the
frontend's own setting for it) in an inline script at the top of ``<head>``, next to
Streamlit's own inline script. Only browser navigations (``Accept: text/html``) that
answer 200 with an HTML page are touched: their ``Accept-Encoding`` is dropped so the
page (8 KB) comes uncompressed and can be edited; everything else passes through as is.
"""

from __future__ import annotations

from typing import Any

SNIPPET = (b'<script>window.__streamlit=Object.assign({},window.__streamlit,'
           b'{BACKEND_BASE_URL:new URL(".",window.location.href).href})</script>')


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    return next((v for k, v in headers if k.lower() == name), b"")


def inject(html: bytes) -> bytes:
    """``html`` with the snippet right after ``<head>`` (unchanged when there is no ``<head>``)."""
    at = html.find(b"<head>")
    if at < 0:
        return html
    at += len(b"<head>")
    return html[:at] + SNIPPET + html[at:]


class PageHtml:
    """ASGI middleware: ``st.App(..., middleware=[..., Middleware(PageHtml)])``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = scope.get("headers") or []
        if (scope.get("type") != "http" or scope.get("method") != "GET"
                or b"text/html" not in _header(headers, b"accept")):
            return await self.app(scope, receive, send)
        scope = {**scope, "headers": [(k, v) for k, v in headers if k.lower() != b"accept-encoding"]}
        start: dict[str, Any] | None = None
        body: list[bytes] = []

        async def edit(message: dict[str, Any]) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                h = message.get("headers") or []
                if (message.get("status") == 200 and _header(h, b"content-type").startswith(b"text/html")
                        and not _header(h, b"content-encoding")):
                    start = message  # held until the whole page is here
                    return
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                page = inject(b"".join(body))
                h = [(k, v) for k, v in start.get("headers") or [] if k.lower() != b"content-length"]
                await send({**start, "headers": [*h, (b"content-length", str(len(page)).encode())]})
                await send({"type": "http.response.body", "body": page})
                return
            await send(message)

        await self.app(scope, receive, edit)
