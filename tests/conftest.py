"""Shared fixtures: fresh local lakes, recorders, and a real S3 (moto server on loopback).

The helpers behind them, and every other helper shared by tests, are in ``tests/support``."""

from __future__ import annotations

import pytest

from recorder import Recorder
from tests.support.servers import MotoS3


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


@pytest.fixture(scope="session")
def moto_s3():
    server = MotoS3()
    yield server
    server.stop()


@pytest.fixture
def s3_lake(moto_s3):
    bucket = moto_s3.new_bucket()
    return f"s3://{bucket}/lake", moto_s3.storage_options()
