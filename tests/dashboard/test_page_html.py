"""invlog/dashboard/page_html.py: the page tells Streamlit's frontend its base; nothing else is touched."""

import asyncio
import gzip

from invlog.dashboard.page_html import SNIPPET, PageHtml, inject

PAGE = b"<!DOCTYPE html><html><head><title>Streamlit</title></head><body></body></html>"


def _serve(path: str, accept: str, *, ctype: bytes = b"text/html; charset=utf-8", status: int = 200,
           chunks: tuple[bytes, ...] = (PAGE[:30], PAGE[30:]), method: str = "GET"):
    """Run the middleware over a stub app that answers gzip when asked (as Streamlit's own middleware does)."""
    seen: dict = {}
    sent: list[dict] = []

    async def app(scope, receive, send):
        seen["headers"] = dict(scope["headers"])
        zipped = b"gzip" in seen["headers"].get(b"accept-encoding", b"")
        body = gzip.compress(b"".join(chunks)) if zipped else None
        headers = [(b"content-type", ctype), (b"content-length", b"%d" % len(body or b"".join(chunks)))]
        await send({"type": "http.response.start", "status": status,
                    "headers": headers + ([(b"content-encoding", b"gzip")] if zipped else [])})
        if zipped:
            await send({"type": "http.response.body", "body": body})
        else:
            for i, c in enumerate(chunks):
                await send({"type": "http.response.body", "body": c, "more_body": i < len(chunks) - 1})

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path,
             "headers": [(b"accept", accept.encode()), (b"accept-encoding", b"gzip, br")]}
    asyncio.run(PageHtml(app)(scope, None, send))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return seen["headers"], dict(sent[0]["headers"]), body


def test_a_page_navigation_gets_the_base_url_snippet_with_a_true_length():
    asked, headers, body = _serve("/overview", "text/html,application/xhtml+xml,*/*;q=0.8")
    assert b"accept-encoding" not in asked  # answered uncompressed, so it can be edited
    assert body == inject(PAGE) and body.startswith(b"<!DOCTYPE html><html><head>" + SNIPPET)
    assert headers[b"content-length"] == str(len(body)).encode() and b"content-encoding" not in headers
    assert b'new URL(".",window.location.href)' in SNIPPET  # the base the page's own ./static/ links resolve to


def test_scripts_api_calls_and_other_answers_pass_through_untouched():
    asked, headers, body = _serve("/static/js/index.js", "*/*", ctype=b"text/javascript")
    assert asked[b"accept-encoding"] == b"gzip, br" and headers[b"content-encoding"] == b"gzip"
    assert gzip.decompress(body) == PAGE
    _, _, body = _serve("/overview", "text/html", status=404)
    assert body == PAGE  # not a page: as the server sent it
    _, _, body = _serve("/overview", "text/html", ctype=b"application/json")
    assert body == PAGE
    asked, _, body = _serve("/overview", "text/html", method="POST")
    assert asked[b"accept-encoding"] == b"gzip, br" and gzip.decompress(body) == PAGE
    assert inject(b"<html><body>no head</body></html>") == b"<html><body>no head</body></html>"
