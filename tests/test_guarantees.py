"""Guarantees of docs/guarantees.md: oversized and hostile input, clocks, injection, secrets, disk full."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import subprocess
import sys
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recorder import Agent, LLMFile, Recorder
from recorder.clock import SimClock
from recorder.providers import Completion
from tests.support import ROOT
from tests.support.lakeread import rows
from warehouse import Warehouse

INV = {"tenant": "acme", "agent": "a", "provider": "openai", "model": "gpt-4o"}
USAGE = {"input_tokens": 10, "output_tokens": 1}
CANARY = "sk-CANARY0123456789abcdefXYZ"


# ---- oversized and invalid input --------------------------------------------------------
def test_hundred_mib_prompt_is_capped(make_recorder):
    rec = make_recorder()
    huge = "x" * (100 << 20)
    with rec.invocation(**INV, user_message=huge) as inv, inv.round([{"role": "user", "content": huge}]) as r:
        r.set_response("ok", usage=USAGE)
    del huge
    assert rec.flush(timeout=120)
    (i,) = rows(rec.lake, "invocations")
    (rd,) = rows(rec.lake, "rounds")
    assert len(i["user_message"]) == 1 << 20 and json.loads(i["truncated"])["user_message"]["length"] == 100 << 20
    assert len(rd["messages"]) == 1 << 20 and rec.stats()["truncated_fields"] == 2


def test_invalid_utf8_deep_json_and_ten_thousand_tool_calls(make_recorder):
    rec = make_recorder()
    deep: dict = {}
    node = deep
    for _ in range(10_000):
        node["k"] = {}
        node = node["k"]
    calls = [{"id": f"c{k}", "name": "t", "arguments": {"n": k}} for k in range(10_000)]
    with rec.invocation(**INV, user_message="bad \ud800 surrogate", variables=deep) as inv:
        with inv.round([{"role": "user", "content": "hi \udfff"}]) as r:
            r.set_response("ok", tool_calls=calls, usage=USAGE)
    assert rec.flush()
    (i,) = rows(rec.lake, "invocations")
    (rd,) = rows(rec.lake, "rounds")
    assert i["user_message"] == "bad ? surrogate"
    depth, v = 0, json.loads(i["variables"])
    while isinstance(v, dict):
        v, depth = v["k"], depth + 1
    assert depth <= 64 and "TRUNCATED" in v
    assert len(json.loads(rd["tool_calls"])) == 10_000


@pytest.mark.parametrize("usage", [{"input_tokens": 2**31}, {"output_tokens": -1}, {"input_tokens": float("nan")}])
def test_absurd_counts_are_rejected(make_recorder, usage):
    rec = make_recorder()
    with rec.invocation(**INV) as inv, inv.round() as r, pytest.raises(ValueError, match="usage"):
        r.set_response("x", usage=usage)


# ---- clocks -------------------------------------------------------------------------------
def test_run_spanning_midnight_lands_in_one_partition(make_recorder):
    rec = make_recorder()
    clock = SimClock(dt.datetime(2026, 11, 25, 23, 59, 59, tzinfo=dt.UTC))
    with rec.invocation(**INV, clock=clock) as inv:
        for _ in range(3):
            with inv.round() as r:
                clock.advance(1.0)
                r.set_response("x", usage=USAGE)
    assert rec.flush()
    assert {r["date"] for r in rows(rec.lake, "invocations")} == {dt.date(2026, 11, 25)}
    rs = rows(rec.lake, "rounds")
    assert {r["date"] for r in rs} == {dt.date(2026, 11, 25)}
    assert max(r["ended_at"] for r in rs) > dt.datetime(2026, 11, 26, tzinfo=dt.UTC)  # crossed midnight


def test_wall_clock_jump_does_not_break_durations(make_recorder):
    rec = make_recorder()
    clock = SimClock(dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC))
    with rec.invocation(**INV, clock=clock) as inv:
        with inv.round() as r:
            clock.set(dt.datetime(2026, 11, 25, 11, tzinfo=dt.UTC))  # NTP steps the wall clock back an hour
            clock.advance(2.0)
            r.set_response("x", usage=USAGE)
    assert rec.flush()
    (rd,) = rows(rec.lake, "rounds")
    assert rd["latency_ms"] == pytest.approx(2000) and rd["ended_at"] > rd["started_at"]


def test_host_time_zone_does_not_move_partitions(tmp_path):
    code = ("import time\nfrom recorder import Recorder\nrec = Recorder(lake=__import__('sys').argv[1])\n"
            "with rec.invocation(tenant='acme', agent='a', provider='openai', model='gpt-4o'):\n    pass\n"
            "rec.shutdown()\n")
    lake = str(tmp_path / "lake")
    subprocess.run([sys.executable, "-c", code, lake], cwd=ROOT, env={**os.environ, "TZ": "Pacific/Kiritimati"},
                   check=True)
    (i,) = rows(Recorder(lake=lake, spool_dir=str(tmp_path / "s")).lake, "invocations")
    assert i["date"] == i["started_at"].astimezone(dt.UTC).date()


# ---- injection ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_tenants(tmp_path_factory):
    lake = str(tmp_path_factory.mktemp("inj") / "lake")
    rec = Recorder(lake=lake)
    for tenant in ("acme", "victim"):
        for k in range(3):
            with rec.invocation(tenant=tenant, agent=f"agent-{tenant}", provider="openai", model="gpt-4o",
                                user_id=f"user-{tenant}", user_message=f"secret plans of {tenant} {k}") as inv:
                with inv.round() as r:
                    r.set_response("x", usage=USAGE)
    rec.shutdown()
    return lake


NASTY = st.lists(st.sampled_from([*"'\";-–/*%_\\()=<>|&$?{}[]x1 \n\x00",
                                  "union", "select", "or 1=1", "victim", "acme", "' or tenant = 'victim", "--",
                                  "drop table"]), max_size=12).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(agent=NASTY, text=NASTY, user=NASTY, status=NASTY)
def test_sql_metacharacters_never_reach_another_tenant(two_tenants, agent, text, user, status):
    wh = Warehouse(two_tenants)
    start, end = dt.date(2020, 1, 1), dt.datetime.now(dt.UTC).date()
    try:
        df, _ = wh.invocations("acme", start, end, agent=agent or None, text=text or None, user_id=user or None,
                               status=status or None)
    except ValueError:
        return
    assert all(a == "agent-acme" for a in df["agent"].to_list())
    assert not any("victim" in (m or "") for m in df["user_message_preview"].to_list())


@settings(max_examples=40, deadline=None)
@given(bad=NASTY)
def test_hostile_grain_split_sort_and_tenant_are_validation_errors(two_tenants, bad):
    wh = Warehouse(two_tenants)
    start, end = dt.date(2026, 1, 1), dt.date(2026, 1, 2)
    for call in (lambda: wh.cost_trend("acme", start, end, grain=bad),
                 lambda: wh.cost_trend("acme", start, end, split_by=bad),
                 lambda: wh.invocations("acme", start, end, sort=bad)):
        if bad not in ("hour", "day", "week", "month", "agent", "model", "provider", "user", "trigger", "time",
                       "cost", "latency", "tokens", "oldest"):
            with pytest.raises(ValueError):
                call()
    if bad not in ("acme", "victim") and not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", bad):
        with pytest.raises(ValueError, match="tenant"):
            wh.tenant_totals(bad)


# ---- secrets ------------------------------------------------------------------------------
class Leaky:
    name = "leaky"

    def vendor(self, model):
        return "openai"

    def request_params(self, model, tools):
        return {"model": model, "extra_headers": {"X-Api-Key": CANARY}, "metadata": {"deep": {"token": CANARY}}}

    def complete(self, *, model, messages, tools, files, timeout, on_first_token, clock):
        if any(m.get("role") == "tool" for m in messages):
            raise RuntimeError(f"upstream rejected key {CANARY} at https://api.example.com/v1?key={CANARY}")
        on_first_token()
        return Completion(text=None, tool_calls=[{"id": "c1", "name": "login",
                                                  "arguments": {"password": CANARY, "note": f"Bearer {CANARY}"}}],
                          stop_reason="tool_calls", usage=USAGE)


def login(password: str, note: str) -> dict:
    """A tool that receives a secret."""
    return {"session": f"token={CANARY}"}


def test_canary_secrets_in_every_place_never_stored_logged_or_shown(make_recorder, caplog, tmp_path):
    rec = make_recorder()
    agent = Agent("bot", Leaky(), "gpt-4o", tools=[login], recorder=rec)
    with caplog.at_level(logging.WARNING, logger="invocation_logs"), pytest.raises(RuntimeError):
        agent.run(f"my key is {CANARY}", tenant="acme", variables={"auth": {"api_key": CANARY}},
                  files=[LLMFile.from_bytes(b"x", filename=f"keys-{CANARY}.txt"),
                         LLMFile.from_url(f"https://files.example.com/a.pdf?signature={CANARY}")])
    assert rec.flush()
    stored = json.dumps([rows(rec.lake, "invocations"), rows(rec.lake, "rounds")], default=str)
    assert "CANARY" not in stored
    for dirpath, _, files in os.walk(rec.lake.root):
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as fh:
                assert b"CANARY" not in fh.read(), f
    assert "CANARY" not in caplog.text
    (i,) = rows(rec.lake, "invocations")
    assert i["status"] == "Failed" and "[REDACTED]" in i["error_message"]


# ---- disk full ----------------------------------------------------------------------------
@pytest.fixture
def tiny_fs(tmp_path):
    mnt = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mnt.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True,
                       capture_output=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.fail(f"the disk-full tests need root to mount a small tmpfs ({exc}); CI runs as root")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _record_many(rec, n, size=20_000):
    for k in range(n):
        with rec.invocation(**INV, user_id=f"u{k}") as inv, inv.round([{"role": "user",
                                                                          "content": os.urandom(size).hex()}]) as r:
            r.set_response("ok", usage=USAGE)


def test_full_spool_disk_runs_continue_and_nothing_is_lost(tiny_fs, tmp_path):
    rec = Recorder(lake=str(tmp_path / "lake"), spool_dir=str(tiny_fs / "spool"), spool_interval=0.01)
    _record_many(rec, 120)  # ~4.8 MB of messages into a 1 MB spool
    assert rec.flush(timeout=60)
    stats = rec.stats()
    assert stats["spool_errors"] >= 1 and stats["written_invocations"] == 120 and stats["dropped_spool"] == 0
    assert len({r["user_id"] for r in rows(rec.lake, "invocations")}) == 120
    rec.shutdown()


def test_full_lake_disk_no_partial_file_and_recovery_without_cleanup(tiny_fs, tmp_path):
    rec = Recorder(lake=str(tiny_fs / "lake"), spool_dir=str(tmp_path / "spool"), spool_interval=0.01)
    _record_many(rec, 60)
    assert rec.flush(timeout=3) is False  # the lake's disk is full
    # The publisher keeps retrying in the background, so a hidden temp file (".name.tmp-...", which readers
    # skip) may exist at this instant; every data file a reader can see is a complete Parquet file.
    files = rec.lake.find("invocations") + rec.lake.find("rounds")
    visible = [p for p in files if "/." not in p and "/_delta_log/" not in p]
    assert all(p.endswith(".parquet") for p in visible)
    for p in visible:  # whatever is visible is complete
        import pyarrow.parquet as pq

        pq.read_table(rec.lake.path(p))
    subprocess.run(["mount", "-o", "remount,size=64m", str(tiny_fs)], check=True)
    assert rec.flush(timeout=60)
    assert len({r["user_id"] for r in rows(rec.lake, "invocations")}) == 60
    rec.shutdown()
    left = [p for p in rec.lake.find("invocations") + rec.lake.find("rounds") if "/." in p]
    assert left == []  # no temp file left behind once the writes went through
