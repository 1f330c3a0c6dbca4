"""The Delta tables under load: many recorder processes committing, and readers that never see a
wrong count while recorders write and compaction (SIGKILLed at random points), retention and
tenant deletion run."""

from __future__ import annotations

import datetime as dt
import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import duckdb
import polars as pl
import pytest
from deltalake import DeltaTable

from invlog.lake import Lake, commit, delta, pending
from recorder.clock import SimClock
from tests.support import ROOT
from warehouse import Warehouse
from warehouse import retention as keep

DAY = dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)


def _record(rec, tenant, n, when, per_flush=1):
    for k in range(n):
        with rec.invocation(tenant=tenant, agent="a", provider="openai", model="gpt-4o",
                            clock=SimClock(when + dt.timedelta(seconds=k))) as inv, inv.round() as r:
            r.set_response("x", usage={"input_tokens": 1000, "output_tokens": 100})
        if k % per_flush == per_flush - 1:
            assert rec.flush()


def _writers(lake: str, tmp_path, n: int, runs: int, storage: dict | None = None) -> tuple[set[str], list[str]]:
    procs = []
    for w in range(n):
        cmd = [sys.executable, "-m", "tests.support.delta_writer", "--lake", lake,
               "--spool", str(tmp_path / f"spool-{w}"), "--runs", str(runs), "--seed", str(w),
               "--flaky", "0.5" if w % 4 == 0 else "0"]
        if storage:
            cmd += ["--storage", json.dumps(storage)]
        procs.append(subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    acked: set[str] = set()
    notes = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
        acked.update(line for line in out.splitlines() if line)
        notes.extend(line for line in err.splitlines() if line.startswith("#"))
    return acked, notes


def _committed_ids(lake: Lake) -> Counter:
    dtab = DeltaTable(delta.table_uri(lake, "invocations"), storage_options=delta.storage_options(lake))
    files = dtab.file_uris()
    if not lake.is_local:
        con = duckdb.connect()
        con.register_filesystem(lake.fs)
    else:
        con = duckdb.connect()
    ids = con.sql("select invocation_id from read_parquet($f)", params={"f": files}).fetchall()
    return Counter(i for (i,) in ids)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_32_recorder_processes_commit_every_acknowledged_row_exactly_once(tmp_path):
    lake = str(tmp_path / "lake")
    acked, notes = _writers(lake, tmp_path, 32, 25)
    commits = sum(int(n.split("commits=")[1].split()[0]) for n in notes)
    left = pending.ids(Lake(lake))  # what failed commits left: a maintenance pass takes it
    res = commit.commit_pending(Lake(lake), older_than=0)
    assert not res.errors and res.records == len(left)
    ids = _committed_ids(Lake(lake))
    print(f"writers=32 acknowledged={len(acked)} committed={len(ids)} recorder_commits={commits} "
          f"left_pending_for_maintenance={len(left)}")
    assert len(acked) == 32 * 25 and set(ids) == acked and max(ids.values()) == 1
    assert left, "the injected commit failures should have left records pending"
    assert Warehouse(lake, refresh_interval=0).tenant_totals("acme")["total_runs"][0] == 32 * 25


@pytest.mark.slow
@pytest.mark.s3
@pytest.mark.timeout(900)
def test_8_recorder_processes_on_s3_commit_every_acknowledged_row_exactly_once(tmp_path, s3_lake):
    url, opts = s3_lake
    acked, _ = _writers(url, tmp_path, 8, 15, storage=opts)
    lake = Lake(url, opts)
    res = commit.commit_pending(lake, older_than=0)
    assert not res.errors
    ids = _committed_ids(lake)
    print(f"writers=8 (s3) acknowledged={len(acked)} committed={len(ids)}")
    assert len(acked) == 8 * 15 and set(ids) == acked and max(ids.values()) == 1
    assert Warehouse(url, storage_options=opts, refresh_interval=0).tenant_totals("acme")["total_runs"][0] == 120


COMPACT = """
import sys, time, datetime as dt
from invlog.lake import Lake
from warehouse import compact
compact.compact(Lake(sys.argv[1]), tenant="acme", before=dt.date(2026, 11, 24), target_bytes=64 << 10,
                step=lambda s: time.sleep(0.02))
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_readers_stay_exact_while_recorders_write_and_maintenance_is_killed(make_recorder, tmp_path):
    rec = make_recorder(commit_interval=0.3)
    _record(rec, "acme", 120, DAY, per_flush=1)  # 120 small parts over one day: lots to merge
    _record(rec, "acme", 40, DAY + dt.timedelta(days=1), per_flush=1)
    _record(rec, "old", 10, DAY - dt.timedelta(days=5))
    _record(rec, "old", 10, DAY)
    _record(rec, "gone", 15, DAY)
    assert rec.commit()
    lake = rec.lake
    uri = delta.table_uri(lake, "invocations")
    files_before = len([f for f in DeltaTable(uri).file_uris() if "/tenant=acme/" in f])
    stop = threading.Event()
    wrong: list[str] = []
    reads = Counter()
    failures = Counter()
    last_old: dict[str, int] = {}

    def check(who: str, counts: dict[str, int], distinct_live: tuple[int, int] | None) -> None:
        reads[who] += 1
        acme, old, gone = counts.get("acme", 0), counts.get("old", 0), counts.get("gone", 0)
        if acme != 160:
            wrong.append(f"{who}: acme {acme}")
        if old not in (20, 10) or (old == 20 and last_old.get(who) == 10):  # atomic, and never undone
            wrong.append(f"{who}: old {old}")
        last_old[who] = old
        if gone not in (15, 0):
            wrong.append(f"{who}: gone {gone}")
        if distinct_live and distinct_live[0] != distinct_live[1]:
            wrong.append(f"{who}: live counted {distinct_live[1]} rows for {distinct_live[0]} runs")

    def loop(who: str, read) -> None:
        while not stop.is_set():
            try:
                counts, live = read()
            except Exception as exc:  # a file deleted under a snapshot: an error, never a wrong answer
                failures[f"{who}: {type(exc).__name__}"] += 1
                continue
            check(who, counts, live)

    def by_deltalake():
        t = pl.from_arrow(DeltaTable(uri).to_pyarrow_table(columns=["tenant", "invocation_id"]))
        live = t.filter(pl.col("tenant") == "live")
        return dict(t.group_by("tenant").len().iter_rows()), (live["invocation_id"].n_unique(), live.height)

    def by_polars():
        t = pl.scan_delta(uri).select("tenant", "invocation_id").collect()
        live = t.filter(pl.col("tenant") == "live")
        return dict(t.group_by("tenant").len().iter_rows()), (live["invocation_id"].n_unique(), live.height)

    def by_duckdb():
        files = DeltaTable(uri).file_uris()
        rows = duckdb.sql("select tenant, count(*), count(distinct invocation_id) from read_parquet($f, "
                          "hive_partitioning = true, hive_types = {'tenant': VARCHAR}) group by tenant",
                          params={"f": files}).fetchall()
        live = next(((d, n) for t, n, d in rows if t == "live"), None)
        return {t: n for t, n, _ in rows}, live

    wh = Warehouse(lake.url, refresh_interval=0)

    def by_warehouse():
        counts = {t: wh.tenant_totals(t)["total_runs"][0] for t in ("acme", "old", "gone")}
        return counts, None

    def writer():  # a recorder writing today's partition of another tenant the whole time
        k = 0
        while not stop.is_set():
            _record(rec, "live", 1, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=k))
            k += 1
            time.sleep(0.02)

    threads = [threading.Thread(target=loop, args=(n, f)) for n, f in
               (("deltalake", by_deltalake), ("polars", by_polars), ("duckdb", by_duckdb),
                ("warehouse", by_warehouse))] + [threading.Thread(target=writer)]
    for t in threads:
        t.start()
    rng = random.Random(12)
    kills = 0
    try:
        for _ in range(6):  # compaction killed at random points
            p = subprocess.Popen([sys.executable, "-c", COMPACT, lake.root], cwd=ROOT)
            time.sleep(rng.uniform(0.5, 2.5))
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
                kills += 1
            p.wait()
        subprocess.run([sys.executable, "-c", COMPACT, lake.root], cwd=ROOT, check=True, timeout=300)
        keep.retention(lake, "old", 2, today=DAY.date() + dt.timedelta(days=1))
        keep.delete_tenant(lake, "gone")
        time.sleep(2)
    finally:
        stop.set()
        for t in threads:
            t.join()
    files = len([f for f in DeltaTable(uri).file_uris() if "/tenant=acme/" in f])
    print(f"reads={dict(reads)} failures={dict(failures)} kills={kills} wrong={len(wrong)} files_now={files}")
    assert not wrong, wrong[:5]
    assert files_before == 160 and files < 80  # the compactions did merge (killed ones left for later)
    assert kills >= 3 and all(reads[w] >= 5 for w in ("deltalake", "polars", "duckdb", "warehouse"))
    assert sum(failures.values()) <= sum(reads.values()) // 4  # errors are rare, and never wrong answers
    final = Warehouse(lake.url, refresh_interval=0)
    assert (final.tenant_totals("acme")["total_runs"][0], final.tenant_totals("old")["total_runs"][0]) == (160, 10)
    assert "gone" not in final.tenants()
