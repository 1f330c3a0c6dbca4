"""``POST /v1/traces`` over HTTP, answered as the OTLP specification says.

200 with an ``ExportTraceServiceResponse`` (in the request's encoding) once the accepted
spans are durable in the write-ahead log, ``partial_success`` counting and naming the
spans refused; 400 for a body that cannot be read; 401 for a missing or unknown key
(nothing is read before the key is checked); 413 past ``max_body`` (sent or inflated);
415 for another content type; 503 with ``Retry-After`` when too many traces are waiting
or the log cannot be written (disk full); 404/405 elsewhere. The tenant is the key's:
no attribute of a span can write into another tenant. A ``ThreadingHTTPServer`` (one
thread per connection; the standard library, so no framework to deploy): put TLS in
front of it (docs/otel.md), it binds to loopback by default.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from recorder.otel.assembler import Assembler
from recorder.otlp.decode import BodyError, TooLarge, parse, read_body, spans
from recorder.otlp.keys import Keys
from recorder.otlp.wal import WAL

log = logging.getLogger("recorder.otlp")
PROTOBUF, JSON = "application/x-protobuf", "application/json"


class Receiver:
    """The receiver's parts: keys, assembler, write-ahead log, and the HTTP server that uses them."""

    def __init__(self, recorder: Any, keys: Keys, wal_dir: str, *, host: str = "127.0.0.1", port: int = 4318,
                 max_body: int = 16 << 20, max_pending: int = 100_000, settle: float = 0.5,
                 max_wait: float = 30.0, fsync: bool = True, read_timeout: float = 30.0):
        self.recorder, self.keys, self.max_body, self.max_pending = recorder, keys, max_body, max_pending
        self.read_timeout = read_timeout  # a connection that stalls mid-request is closed after it
        self.assembler = Assembler(recorder, settle=settle, max_wait=max_wait)
        self.wal = WAL(wal_dir, fsync=fsync)
        for tenant, batch in self.wal.replay():  # what an earlier process acknowledged and did not record
            self.assembler.add(tenant, batch)
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> Receiver:
        self.assembler.start()
        for target, name in ((self.httpd.serve_forever, "invlog-otlp-http"), (self._collect, "invlog-otlp-wal")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _collect(self) -> None:
        while not self._stop.wait(1.0):
            try:
                # a segment goes once its traces are in the recorder's spool (fsynced), not only once published
                self.wal.collect(self.assembler.settled, lambda: self.recorder.wait_durable(10))
            except Exception:
                log.exception("cleaning the write-ahead log failed (it is retried)")

    def stop(self) -> None:
        """Stop taking requests, record what is pending, flush the recorder, clean the log."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self._stop.set()
        self.assembler.stop()
        self.wal.close()
        self.wal.collect(self.assembler.settled, lambda: self.recorder.flush(30))

    def handle(self, headers: Any, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """One request's answer: (status, headers, body). Never raises."""
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        as_json = ctype == JSON
        tenant = self.keys.tenant(headers.get("Authorization"))
        if tenant is None:
            return _error(401, "missing or unknown API key (Authorization: Bearer <key>)", as_json)
        if ctype not in (PROTOBUF, JSON):
            return _error(415, f"Content-Type {ctype!r} is not supported (application/x-protobuf or "
                          "application/json)", as_json)
        if self.assembler.pending() >= self.max_pending:
            return _error(503, "too many traces waiting to be recorded; retry later", as_json, retry=5)
        try:
            body = read_body(raw, headers.get("Content-Encoding"), self.max_body)
            batch = spans(parse(body, ctype))
        except TooLarge as exc:
            return _error(413, str(exc), as_json)
        except BodyError as exc:
            return _error(400, str(exc), as_json)
        refused = self.assembler.add(tenant, batch)
        refused_ids = {id(s) for s, _ in refused}
        accepted = [s for s in batch if id(s) not in refused_ids]
        if accepted:
            try:
                self.wal.append(tenant, ctype, body, accepted)
            except OSError as exc:  # disk full, I/O error: not acknowledged, the exporter retries
                log.error("write-ahead log: %s", exc)
                return _error(503, "cannot store spans right now; retry later", as_json, retry=10)
        resp = ExportTraceServiceResponse()
        if refused:
            resp.partial_success.rejected_spans = len(refused)
            resp.partial_success.error_message = "; ".join(
                f"span {s.span_id or '(no id)'}: {why}" for s, why in refused[:20])[:4000]
        if as_json:
            doc: dict[str, Any] = {}
            if refused:
                doc["partialSuccess"] = {"rejectedSpans": str(len(refused)),
                                         "errorMessage": resp.partial_success.error_message}
            return 200, {"Content-Type": JSON}, json.dumps(doc).encode()
        return 200, {"Content-Type": PROTOBUF}, resp.SerializeToString()


def _error(code: int, message: str, as_json: bool, retry: int | None = None) -> tuple[int, dict[str, str], bytes]:
    """An OTLP error body: a ``google.rpc.Status`` (code and message), in the request's encoding."""
    from google.rpc.status_pb2 import Status  # shipped with googleapis-common-protos, opentelemetry-proto's dependency

    status = Status(code=3 if code == 400 else 16 if code == 401 else 14, message=message)
    headers = {"Content-Type": JSON if as_json else PROTOBUF}
    if retry is not None:
        headers["Retry-After"] = str(retry)
    body = json.dumps({"code": status.code, "message": message}).encode() if as_json else status.SerializeToString()
    return code, headers, body


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "invlog-otlp"
        timeout = receiver.read_timeout  # socket timeout: a stalled client cannot hold its thread forever

        def log_message(self, *args: Any) -> None:  # the exporters' retries would flood the log
            pass

        def _send(self, code: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(code)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            if self.path.split("?")[0] != "/v1/traces":
                self._send(404, {"Content-Type": "text/plain"}, b"not found: the OTLP endpoint is /v1/traces\n")
                return
            try:
                length = int(self.headers.get("Content-Length") or -1)
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                self._send(*_error(411, "Content-Length is required", False))
                return
            if length > receiver.max_body:
                self.close_connection = True
                if length <= 8 * receiver.max_body:  # read and drop it, so the client hears the 413
                    left = length
                    while left > 0:
                        chunk = self.rfile.read(min(left, 1 << 20))
                        if not chunk:
                            break
                        left -= len(chunk)
                self._send(*_error(413, f"body of {length:,} bytes is over the {receiver.max_body:,} limit",
                                   "json" in (self.headers.get("Content-Type") or "")))
                return
            if receiver.keys.tenant(self.headers.get("Authorization")) is None:
                self.close_connection = True
                self._send(*_error(401, "missing or unknown API key (Authorization: Bearer <key>)",
                                   "json" in (self.headers.get("Content-Type") or "")))
                return
            raw = self.rfile.read(length)
            try:
                answer = receiver.handle(self.headers, raw)
            except Exception:  # a bug must not take the server down: 500, logged
                log.exception("OTLP request failed")
                answer = (500, {"Content-Type": "text/plain"}, b"internal error\n")
            self._send(*answer)

        def do_GET(self) -> None:
            self._send(405, {"Content-Type": "text/plain", "Allow": "POST"}, b"POST /v1/traces\n")

    return Handler
