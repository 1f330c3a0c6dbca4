"""The lake read by other tools as plain Parquet: data folders hold data files only."""

import datetime as dt
import json

import duckdb
import polars as pl
import pyarrow.parquet as pq

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


def _plain_counts(lake_root: str) -> tuple[dict, dict]:
    glob = f"{lake_root}/invocations/**/*.parquet"
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
    data = rec.lake.find("invocations")
    assert data and all(p.rsplit("/", 1)[1].startswith("c-") for p in data)  # data files only
    assert _plain_counts(rec.lake.root) == (truth, truth)
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    assert {t: wh.tenant_totals(t)["total_runs"][0] for t in ("12", "012")} == truth


def test_a_lake_with_markers_and_rollups_in_its_data_folders_stays_exact_and_moves_them_out(make_recorder):
    """Lakes written before derived files moved to _meta/parts: readers and replays still honor
    their markers, and the next compact moves markers out and drops the old rollups."""
    from recorder import parts

    rec = make_recorder()
    _record(rec, "acme", 4)
    lake = rec.lake
    maint.compact(lake, tenant="acme", before=dt.date(2026, 11, 21), grace_seconds=3600)  # replaced files kept
    rel = "invocations/tenant=acme/date=2026-11-20"
    side = f"_meta/parts/{rel}"
    for p in lake.find(side):  # put them back where an older version wrote them
        name = p.rsplit("/", 1)[1]
        lake.put(f"{rel}/{name}", lake.read(f"{side}/{name}"))
        lake.fs.rm(lake.path(f"{side}/{name}"))
    marker = next(n for n in (p.rsplit("/", 1)[1] for p in lake.find(rel)) if n.startswith("_compacted-"))
    replaced = json.loads(lake.read(f"{rel}/{marker}"))["replaces"]
    assert len(replaced) == 4
    wh = Warehouse(lake.url, refresh_interval=0)
    assert wh.tenant_totals("acme")["total_runs"][0] == 4  # the old marker still hides the replaced files
    assert parts.published_or_merged(lake)(f"{rel}/{replaced[0]}")  # and a replay still knows them
    maint.compact(lake, tenant="acme", before=dt.date(2026, 11, 21), grace_seconds=0)
    names = [p.rsplit("/", 1)[1] for p in lake.find(rel)]
    assert len(names) == 1 and names[0].startswith("c-")
    moved = [p.rsplit("/", 1)[1] for p in lake.find(side)]
    assert marker in moved and any(n.startswith("_rollup1-c-") for n in moved)
    assert parts.published_or_merged(lake)(f"{rel}/{replaced[0]}")  # exactly-once replays survive the move
    wh = Warehouse(lake.url, refresh_interval=0)
    assert wh.tenant_totals("acme")["total_runs"][0] == 4
    assert pq.read_metadata(lake.path(f"{rel}/{names[0]}")).num_rows == 4
