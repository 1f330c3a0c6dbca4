"""The command line as a new user meets it: one-line errors, non-zero exits, no tracebacks."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest

from recorder import Agent, Recorder
from recorder.demo import record_demo
from recorder.providers import OfflineProvider
from tests.support import ROOT


def invlog(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invlog", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})


def one_line_error(out: subprocess.CompletedProcess, *words: str) -> None:
    assert out.returncode != 0, out.stdout
    lines = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and all(w in lines[0] for w in words), out.stderr
    assert "Traceback" not in out.stderr


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("cli") / "lake")
    rec = Recorder(lake=path, spool_dir=str(tmp_path_factory.mktemp("spool")))
    record_demo(rec, tenants=1, days=2, seed=2, runs_per_day=6, today=dt.datetime.now(dt.UTC).date(), key="cli",
                progress=False)
    rec.shutdown()
    return path


@pytest.mark.parametrize("command", ["summary", "verify", "compact", "report"])
def test_a_missing_lake_is_named_by_every_command(command, tmp_path):
    extra = ["--tenant", "acme", "--from", "2026-01-01", "--to", "2026-01-02", "--out", str(tmp_path / "r.csv")] \
        if command == "report" else []
    one_line_error(invlog(command, *extra, "--lake", str(tmp_path / "nope")), "does not exist", "nope")


def test_report_infers_the_format_and_refuses_empty_or_unknown(lake, tmp_path):
    today = dt.datetime.now(dt.UTC).date()
    period = ["--from", (today - dt.timedelta(days=3)).isoformat(), "--to", today.isoformat()]
    out = invlog("report", "--lake", lake, "--tenant", "acme", *period, "--out", str(tmp_path / "r.parquet"))
    assert out.returncode == 0 and "format: parquet (from --out)" in out.stderr, out.stderr
    assert (tmp_path / "r.parquet").read_bytes()[:4] == b"PAR1"
    one_line_error(invlog("report", "--lake", lake, "--tenant", "acme", *period, "--out", str(tmp_path / "r.txt")),
                   "--format")
    one_line_error(invlog("report", "--lake", lake, "--tenant", "nobody", *period, "--out", str(tmp_path / "a.csv")),
                   "no tenant 'nobody'")
    one_line_error(invlog("report", "--lake", lake, "--tenant", "acme", "--from", "2001-01-01", "--to", "2001-01-31",
                          "--out", str(tmp_path / "b.csv")), "no runs")
    assert not (tmp_path / "a.csv").exists() and not (tmp_path / "b.csv").exists()
    one_line_error(invlog("report", "--lake", lake, "--tenant", "acme", *period, "--out",
                          str(tmp_path / "missing" / "r.html")), "No such file or directory")


def test_demo_on_an_unwritable_lake_is_one_line():
    one_line_error(invlog("demo", "--lake", "/proc/invlog-test/lake", "--days", "1"), "cannot be written")


def test_lake_flag_after_the_command_for_python_m_warehouse(lake):
    out = subprocess.run([sys.executable, "-m", "warehouse", "verify", "--lake", lake], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "0 bad" in out.stdout and "checked 0" not in out.stdout, out.stdout


def test_default_recorder_on_an_unwritable_lake_keeps_the_agent_running(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("INVLOG_LAKE", "/proc/invlog-test/lake")
    monkeypatch.delenv("INVLOG_SPOOL", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # the fallback spool lives in the user's cache
    rec = Recorder()
    try:
        agent = Agent("bot", OfflineProvider(seed=1), "gpt-4o", recorder=rec)
        resp = agent.run("hello", tenant="acme")
        assert resp.status == "Success" and resp.cost_usd is not None
        assert rec.spool_dir.startswith(str(tmp_path / ".cache" / "invocation-logs"))
        warnings = [r.getMessage() for r in caplog.records if "cannot be written" in r.getMessage()]
        assert len(warnings) == 1 and rec.spool_dir in warnings[0]
    finally:
        rec.shutdown(timeout=2)
