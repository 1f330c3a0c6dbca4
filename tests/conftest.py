"""Shared fixtures: fresh local lakes, recorders, and a real S3 (moto server on loopback)."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from recorder import Recorder


@pytest.fixture
def lake_dir(tmp_path):
    return str(tmp_path / "lake")


@pytest.fixture
def make_recorder(tmp_path):
    made: list[Recorder] = []

    def make(lake: str | None = None, **kw) -> Recorder:
        kw.setdefault("spool_dir", str(tmp_path / f"spool-{len(made)}"))
        rec = Recorder(lake=lake or str(tmp_path / "lake"), **kw)
        made.append(rec)
        return rec

    yield make
    for rec in made:
        rec.shutdown(timeout=5)


def wait_healthy(url: str, proc, what: str = "the server") -> None:
    """Wait for ``url`` to answer 200; fail with the end of ``proc``'s output if it never does."""
    import urllib.request

    for _ in range(200):
        try:
            if urllib.request.urlopen(url, timeout=1).status == 200:
                return
        except OSError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail(f"{what} did not start: " + (proc.stdout.read().decode(errors="replace")[-2000:]
                                             if proc.stdout else ""))


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


@pytest.fixture(scope="session")
def moto_s3():
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture
def s3_lake(moto_s3):
    bucket = moto_s3.new_bucket()
    return f"s3://{bucket}/lake", moto_s3.storage_options()
