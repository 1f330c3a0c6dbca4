"""The lake read by other tools as plain Parquet: data folders hold data files only."""

import datetime as dt
import json

import duckdb
import polars as pl
import pyarrow.parquet as pq

from recorder import committer
from recorder.clock import SimClock
from warehouse import Warehouse
from warehouse import compact as maint

DAY = dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)


def _record(rec, tenant, n, when=DAY):
    for k in range(n):
        with rec.invocation(tenant=tenant, agent="a", provider="openai", model="gpt-4o",
                            clock=SimClock(when + dt.timedelta(minutes=k))) as inv, inv.round() as r:
            r.set_response("x", usage={"input_tokens": 100 + k, "output_tokens": 10})
        assert rec.flush()  # one part file per run: compaction has something to merge
    assert rec.commit()


def _plain_counts(lake_root: str) -> tuple[dict, dict]:
    glob = f"{lake_root}/invocations/tenant=*/date=*/*.parquet"
    con = duckdb.connect()
    rows = con.execute(f"select tenant, count(*) from read_parquet('{glob}', hive_partitioning = true, "
                       "hive_types = {'tenant': VARCHAR}) group by tenant").fetchall()
    ours = pl.scan_parquet(glob, hive_partitioning=True, hive_schema={"tenant": pl.String, "date": pl.Date})
    theirs = ours.group_by("tenant").len().collect()
    return dict(rows), dict(zip(theirs["tenant"], theirs["len"], strict=True))


def test_plain_duckdb_and_polars_reads_are_exact_after_compaction_and_keep_012_apart(make_recorder):
    rec = make_recorder()
    _record(rec, "12", 5)
    _record(rec, "012", 3)
    truth = {"12": 5, "012": 3}
    assert _plain_counts(rec.lake.root) == (truth, truth)
    res = maint.compact(rec.lake, before=dt.date(2026, 11, 21), grace_seconds=0)
    assert res.files_merged == 16 and res.rollups_written == 2
    data = [p for p in rec.lake.find("invocations") if "/_delta_log/" not in p]
    assert data and all(p.rsplit("/", 1)[1].startswith("c-") for p in data)  # data files only
    assert _plain_counts(rec.lake.root) == (truth, truth)
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    assert {t: wh.tenant_totals(t)["total_runs"][0] for t in ("12", "012")} == truth


def test_a_plain_lake_with_markers_and_rollups_in_its_data_folders_converts_exactly_and_moves_them_out(
        make_recorder, monkeypatch):
    """A lake written before the Delta log, by the version that kept compaction markers and rollups
    in the data folders: conversion honors its markers (a replaced file is not registered), replays
    still know the replaced parts, and the next compact moves the markers out and drops the rollups."""
    import io

    import pyarrow as pa

    from invlog.lake import commit, delta, markers, pending
    from warehouse import rollup

    monkeypatch.setattr(committer, "commit_records", lambda *a, **k: commit.CommitResult())  # no log yet
    rec = make_recorder()
    _record(rec, "acme", 4)
    rec.shutdown()
    monkeypatch.undo()
    lake = rec.lake
    for rid in pending.ids(lake):  # that version wrote no pending records
        pending.delete(lake, rid)
    rel = "invocations/tenant=acme/date=2026-11-20"
    replaced = sorted(p.rsplit("/", 1)[1] for p in lake.find(rel))
    merged = pa.concat_tables([pq.read_table(io.BytesIO(lake.read(f"{rel}/{n}"))) for n in replaced])
    sink = io.BytesIO()
    pq.write_table(merged, sink)
    lake.put(f"{rel}/c-old.parquet", sink.getvalue())  # its merge, within the grace period: both there
    lake.put(f"{rel}/_compacted-old.json", json.dumps({"merged": "c-old.parquet", "replaces": replaced,
                                                        "created_at": "2026-11-21T00:00:00+00:00"}).encode())
    lake.put(f"{rel}/{rollup.rollup_name('c-old.parquet')}", rollup.build(merged))
    wh = Warehouse(lake.url, refresh_interval=0)
    assert wh.tenant_totals("acme")["total_runs"][0] == 4  # converted on first use, the marker honored
    assert sorted(delta.live_entries(delta.open_table(lake, "invocations")).column("path").to_pylist()) == [
        "tenant=acme/date=2026-11-20/c-old.parquet"]
    assert markers.published_or_merged(lake)(f"{rel}/{replaced[0]}")  # and a replay still knows them
    maint.compact(lake, tenant="acme", before=dt.date(2026, 11, 21), grace_seconds=0)
    names = [p.rsplit("/", 1)[1] for p in lake.find(rel)]
    assert not [n for n in names if n.startswith("_")]  # data files only in the data folder
    side = f"_meta/parts/{rel}"
    assert "_compacted-old.json" in [p.rsplit("/", 1)[1] for p in lake.find(side)]
    assert markers.published_or_merged(lake)(f"{rel}/{replaced[0]}")  # exactly-once replays survive the move
    assert Warehouse(lake.url, refresh_interval=0).tenant_totals("acme")["total_runs"][0] == 4
