"""A loopback server speaking the providers' admin report formats, for reconciliation tests.

OpenAI: ``GET /v1/organization/usage/completions`` and ``/v1/organization/costs`` (pages of
``{"object": "page", "data": [buckets], "has_more", "next_page"}``, buckets with ``start_time`` /
``end_time`` in Unix seconds and typed ``results``, as the openai SDK's types define them).
Anthropic: ``GET /v1/organizations/usage_report/messages`` and ``/v1/organizations/cost_report``
(``{"data": [buckets], "has_more", "next_page"}``, buckets with RFC 3339 ``starting_at`` /
``ending_at``; cost ``amount`` a decimal string in cents). One bucket per page, so pagination is
followed; the first request of each endpoint is answered 429 with ``Retry-After``. Requests without
the admin key are refused with 401. Every request is kept (path, query, headers).
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI = {"/v1/organization/usage/completions", "/v1/organization/costs"}
ANTHROPIC = {"/v1/organizations/usage_report/messages", "/v1/organizations/cost_report"}


class AdminAPI:
    def __init__(self, key: str, buckets: dict[str, list[dict[str, Any]]]):
        self.key = key
        self.buckets = buckets  # endpoint path -> its buckets, in order
        self.requests: list[dict[str, Any]] = []
        self.throttled: set[str] = set()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                headers = {k.lower(): v for k, v in self.headers.items()}
                api.requests.append({"path": url.path, "query": query, "headers": headers})
                expected = f"Bearer {api.key}" if url.path in OPENAI else api.key
                got = headers.get("authorization") if url.path in OPENAI else headers.get("x-api-key")
                if url.path not in OPENAI | ANTHROPIC:
                    return self._send(404, {"error": {"message": "not found"}})
                if got != expected:
                    return self._send(401, {"error": {"message": "invalid admin key"}})
                if url.path not in api.throttled:  # the first request of each endpoint: rate limited
                    api.throttled.add(url.path)
                    return self._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": "0"})
                page = int((query.get("page") or ["0"])[0].removeprefix("page_"))
                data = api.buckets.get(url.path, [])
                body: dict[str, Any] = {"data": data[page:page + 1], "has_more": page + 1 < len(data),
                                        "next_page": f"page_{page + 1}" if page + 1 < len(data) else None}
                if url.path in OPENAI:
                    body["object"] = "page"
                self._send(200, body)

            def _send(self, status: int, body: Any, extra: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
