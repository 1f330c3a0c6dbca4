"""Servers that tests start: waited for, queried and stopped with nothing left open.

Any pipe or socket a test leaves open is a ``ResourceWarning``; ``stop`` reaps a process and
closes its pipes, ``http_status`` closes its connection whatever the answer.
"""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

import pytest


def wait_healthy(url: str, proc, what: str = "the server") -> None:
    """Wait for ``url`` to answer 200; fail with the end of ``proc``'s output if it never does."""
    for _ in range(200):
        try:
            if http_status(url, timeout=1) == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    proc.kill()
    out = proc.communicate()[0] or b""
    pytest.fail(f"{what} did not start: " + out.decode(errors="replace")[-2000:])


def http_status(url: str, headers: dict[str, str] | None = None, timeout: float = 5.0) -> int:
    """The HTTP status of a GET, error statuses included; the connection is closed either way."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        with err:
            return err.code


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> str:
    """Stop a process a test started (SIGTERM, then SIGKILL), reap it and close its pipes; its output."""
    proc.terminate()
    try:
        out = proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        proc.kill()
        out = proc.communicate()[0]
    if isinstance(out, bytes):
        return out.decode(errors="replace")
    return out or ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MotoS3:
    """A moto S3 server on a loopback port that tests can stop and start again (state survives)."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self._cls = ThreadedMotoServer
        self.server = None
        self.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        for _ in range(50):
            try:
                self.server = self._cls(ip_address="127.0.0.1", port=self.port, verbose=False)
                self.server.start()
                break
            except OSError:
                time.sleep(0.1)
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("moto server did not start")

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def storage_options(self) -> dict:
        return {
            "endpoint_url": self.endpoint, "key": "testing", "secret": "testing",
            "client_kwargs": {"region_name": "us-east-1"},
            "config_kwargs": {"connect_timeout": 1, "read_timeout": 2, "retries": {"max_attempts": 1}},
        }

    def new_bucket(self) -> str:
        import boto3

        name = f"lake-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id="testing",
                     aws_secret_access_key="testing", region_name="us-east-1").create_bucket(Bucket=name)
        return name


class Webhook:
    """A loopback HTTP receiver that keeps every POSTed JSON body (what apprise's ``json://`` sends).

    ``url(path)`` is the apprise URL that reaches it; ``posts`` the bodies in arrival order."""

    def __init__(self, status: int = 200):
        import http.server
        import json
        import threading

        posts: list[dict] = []
        self.posts = posts
        self.status = status
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                posts.append({"path": self.path, **json.loads(body or b"{}")})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Webhook:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
