"""The lake's two tables are Delta tables: other engines read them exactly, at every moment.

Recorders publish parts with pending records and commit in batches; the warehouse reads the
log plus the pending records; compaction, retention and deletion are transactions; every
file's SHA-256 is recorded and checked; time travel and conversion of older lakes.
"""

import datetime as dt
import json
import os
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
from deltalake import DeltaTable

from invlog.lake import Lake, checksums, commit, delta, pending
from recorder import LLMFile, committer
from recorder.clock import SimClock
from warehouse import Warehouse
from warehouse import compact as maint
from warehouse import retention as keep
from warehouse.verify import verify

DAY = dt.datetime(2026, 11, 20, 10, tzinfo=dt.UTC)


def record(rec, tenant, n, when=DAY, message="hello", files=None):
    ids = []
    for k in range(n):
        with rec.invocation(tenant=tenant, agent="a", provider="openai", model="gpt-4o", user_message=message,
                            files=files, clock=SimClock(when + dt.timedelta(minutes=k))) as inv, inv.round() as r:
            r.set_response("x", usage={"input_tokens": 100 + k, "output_tokens": 10})
        ids.append(inv.invocation_id)
        assert rec.flush()
    return ids


def delta_counts(lake: Lake) -> dict[str, dict[str, int]]:
    """Rows per tenant as deltalake, Polars scan_delta and DuckDB over the log's file list see them."""
    uri = delta.table_uri(lake, "invocations")
    t = DeltaTable(uri).to_pyarrow_table(columns=["tenant"])
    by_delta = dict(zip(*pl.from_arrow(t).group_by("tenant").len().to_dict(as_series=False).values(), strict=True))
    scanned = pl.scan_delta(uri).group_by("tenant").len().collect()
    by_polars = dict(zip(scanned["tenant"], scanned["len"], strict=True))
    files = DeltaTable(uri).file_uris()
    by_duck = dict(duckdb.sql("select tenant, count(*) from read_parquet($f, hive_partitioning = true, "
                              "hive_types = {'tenant': VARCHAR}) group by tenant", params={"f": files}).fetchall())
    return {"deltalake": by_delta, "polars": by_polars, "duckdb": by_duck}


def test_recorder_commits_delta_tables_that_every_reader_reads_exactly_with_012_apart(make_recorder):
    rec = make_recorder()
    record(rec, "12", 4)
    record(rec, "012", 3)
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    truth = {"12": 4, "012": 3}
    # published, not committed yet: visible to the warehouse through the pending records
    assert not delta.exists(rec.lake, "invocations") and pending.ids(rec.lake)
    assert {t: wh.tenant_totals(t)["total_runs"][0] for t in truth} == truth
    assert rec.commit()
    assert not pending.ids(rec.lake)
    assert delta_counts(rec.lake) == {"deltalake": truth, "polars": truth, "duckdb": truth}
    dtab = DeltaTable(delta.table_uri(rec.lake, "rounds"))
    assert dtab.metadata().partition_columns == ["tenant", "date"]
    fields = {f.name: f.type for f in dtab.schema().fields}
    assert (str(fields["tenant"]), str(fields["date"])) == ('PrimitiveType("string")', 'PrimitiveType("date")')
    assert {t: wh.tenant_totals(t)["total_runs"][0] for t in truth} == truth
    # the log carries statistics for times and counts only: no text, no ids
    log_dir = Path(rec.lake.root) / "invocations" / "_delta_log"
    log = "\n".join(p.read_text() for p in sorted(log_dir.glob("*.json")))
    stats = [json.loads(json.loads(line)["add"]["stats"]) for line in log.splitlines() if '"add"' in line]
    assert stats and all(set(s["minValues"]) <= set(delta.STATS_COLUMNS["invocations"]) for s in stats)
    assert "hello" not in log and "user_message" not in json.dumps([s["minValues"] for s in stats])


def test_a_failed_commit_loses_nothing_and_the_next_one_takes_everything(make_recorder, monkeypatch):
    rec = make_recorder()
    real = delta.commit

    def refuse(*a, **k):
        raise delta.CommitError("injected: the log refused")

    monkeypatch.setattr(delta, "commit", refuse)
    record(rec, "acme", 5)
    assert not rec.commit()  # refused: the records stay pending
    assert rec.stats()["uncommitted_records"] == 5 and len(pending.ids(rec.lake)) == 5
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    assert wh.tenant_totals("acme")["total_runs"][0] == 5  # and visible
    monkeypatch.setattr(delta, "commit", real)
    assert rec.commit()
    assert rec.stats()["uncommitted_records"] == 0 and not pending.ids(rec.lake)
    assert delta_counts(rec.lake)["deltalake"] == {"acme": 5}
    assert wh.tenant_totals("acme")["total_runs"][0] == 5  # committed once, counted once


def test_a_dead_recorders_pending_records_are_committed_by_maintenance_exactly_once(make_recorder):
    rec = make_recorder(commit_interval=3600)
    record(rec, "acme", 3)
    ids = pending.ids(rec.lake)
    assert len(ids) == 3
    first = pending.read(rec.lake, ids[0])
    commit.commit_records(rec.lake, ids[:1])
    pending.write(rec.lake, ids[0], first)  # as if the committer died before deleting the record
    assert commit.commit_pending(rec.lake).records == 0  # young records belong to a live recorder
    res = commit.commit_pending(rec.lake, older_than=0)
    assert res.records == 3 and not res.errors and not pending.ids(rec.lake)
    assert delta_counts(rec.lake)["deltalake"] == {"acme": 3}
    assert Warehouse(rec.lake.url, refresh_interval=0).tenant_totals("acme")["total_runs"][0] == 3
    assert rec.commit()  # the recorder's own ids were taken by maintenance: nothing twice
    assert delta_counts(rec.lake)["deltalake"] == {"acme": 3}


def test_compaction_is_one_transaction_and_time_travel_reproduces_the_past(make_recorder):
    rec = make_recorder()
    record(rec, "acme", 6)
    assert rec.commit()
    uri = delta.table_uri(rec.lake, "invocations")
    before = DeltaTable(uri)
    v_before, files_before = before.version(), len(before.file_uris())
    assert files_before == 6
    stamp = dt.datetime.now(dt.UTC)
    res = maint.compact(rec.lake, tenant="acme", before=dt.date(2026, 11, 21))
    assert res.files_merged == 12 and res.files_deleted == 0  # replaced files kept: the time-travel window
    after = DeltaTable(uri)
    assert after.version() == v_before + 1 and len(after.file_uris()) == 1
    assert after.history(1)[0]["invlog.operation"] == "compact"  # the merge is that one commit
    assert delta_counts(rec.lake)["deltalake"] == {"acme": 6}
    # the report as it stood before the compaction (or any write after it): the same total, from the old files
    record(rec, "acme", 2, when=DAY + dt.timedelta(hours=1))
    assert rec.commit()
    day = DAY.date()
    now = Warehouse(rec.lake.url, refresh_interval=0).spend_report("acme", day, day)
    then = Warehouse(rec.lake.url, as_of=stamp).spend_report("acme", day, day)
    by_version = Warehouse(rec.lake.url, as_of=v_before).spend_report("acme", day, day)
    assert (now.runs, then.runs, by_version.runs) == (8, 6, 6)
    assert then.total_cost_usd == by_version.total_cost_usd < now.total_cost_usd
    assert Warehouse(rec.lake.url, as_of=stamp).tenant_totals("acme")["total_runs"][0] == 6
    # past the grace, vacuum deletes the replaced files; a plain read of the folder is then exact
    maint.compact(rec.lake, tenant="acme", before=dt.date(2026, 11, 21), grace_seconds=0)
    glob = f"{rec.lake.root}/invocations/tenant=*/date=*/*.parquet"
    n = duckdb.sql(f"select count(*) from read_parquet('{glob}', hive_partitioning = true, "
                   "hive_types = {'tenant': VARCHAR})").fetchall()[0][0]
    assert n == 8


def test_verify_catches_every_single_byte_flip_of_a_part_file(make_recorder):
    """Every offset of a part file flipped, checked the way verify checks each live file (recorded
    SHA-256, then a full read); and verify itself, end to end, on offsets in the header, the pages,
    the page headers and the footer."""
    import random

    from warehouse.verify import check_live_file

    rec = make_recorder()
    record(rec, "acme", 3)
    assert rec.commit()
    rel = next(p for p in rec.lake.find("invocations/tenant=acme") if p.endswith(".parquet"))
    path = Path(rec.lake.path(rel))
    original = path.read_bytes()
    want = checksums.load(rec.lake, "acme")[rel]
    assert want == checksums.sha256(original) and check_live_file(original, "invocations", want, None) is None
    missed = []
    for offset in range(len(original)):
        flipped = bytearray(original)
        flipped[offset] ^= 0x01
        if check_live_file(bytes(flipped), "invocations", want, len(original)) is None:
            missed.append(offset)
    assert missed == [] and len(original) > 1000
    footer = len(original) - 8 - int.from_bytes(original[-8:-4], "little")
    for offset in [0, 3, 4, 100, footer, footer + 10, len(original) - 5, len(original) - 1,
                   *random.Random(7).sample(range(len(original)), 12)]:
        flipped = bytearray(original)
        flipped[offset] ^= 0x01
        path.write_bytes(bytes(flipped))
        res = verify(rec.lake, tenant="acme")
        assert [p.endswith(rel) for p, _ in res.bad] == [True], offset
    path.write_bytes(original)
    res = verify(rec.lake)
    assert not res.bad and not res.unchecked and res.checked == 6


def test_verify_names_a_changed_pending_file_and_quarantine_removes_it_from_the_table(make_recorder):
    rec = make_recorder(commit_interval=3600)
    record(rec, "acme", 2)
    rel = sorted(p for p in rec.lake.find("invocations/tenant=acme") if p.endswith(".parquet"))[0]
    data = bytearray(rec.lake.read(rel))
    data[len(data) // 2] ^= 0xFF
    Path(rec.lake.path(rel)).write_bytes(data)
    res = verify(rec.lake)
    assert [(p.endswith(rel), "SHA-256" in why) for p, why in res.bad] == [(True, True)]
    res = verify(rec.lake, quarantine=True)
    assert len(res.quarantined) == 1 and not rec.lake.exists(rel)
    assert Warehouse(rec.lake.url, refresh_interval=0).tenant_totals("acme")["total_runs"][0] == 1
    assert not verify(rec.lake).bad


def test_migrate_converts_a_lake_of_plain_parts_idempotently(make_recorder, monkeypatch):
    from warehouse.__main__ import main

    monkeypatch.setattr(committer, "commit_records", lambda *a, **k: commit.CommitResult())  # an older recorder
    rec = make_recorder()
    record(rec, "acme", 3)
    record(rec, "012", 2)
    rec.shutdown()
    for rid in pending.ids(rec.lake):  # older versions wrote no pending records
        pending.delete(rec.lake, rid)
    monkeypatch.undo()
    assert not delta.exists(rec.lake, "invocations")
    assert main(["--lake", rec.lake.url, "migrate"]) == 0
    assert delta_counts(rec.lake)["deltalake"] == {"acme": 3, "012": 2}
    v = DeltaTable(delta.table_uri(rec.lake, "invocations")).version()
    assert main(["--lake", rec.lake.url, "migrate"]) == 0  # idempotent
    assert DeltaTable(delta.table_uri(rec.lake, "invocations")).version() == v
    assert not verify(rec.lake).bad and not verify(rec.lake).unchecked  # checksums recorded on conversion


def test_a_plain_lake_converts_on_first_use_by_the_warehouse(make_recorder, monkeypatch):
    monkeypatch.setattr(committer, "commit_records", lambda *a, **k: commit.CommitResult())
    rec = make_recorder()
    record(rec, "acme", 2)
    rec.shutdown()
    for rid in pending.ids(rec.lake):
        pending.delete(rec.lake, rid)
    assert Warehouse(rec.lake.url).tenant_totals("acme")["total_runs"][0] == 2
    assert delta.exists(rec.lake, "invocations") and delta.exists(rec.lake, "rounds")


def test_delete_tenant_leaves_no_file_holding_its_data(make_recorder, tmp_path):
    rec = make_recorder()
    doc = tmp_path / "secret.txt"
    doc.write_bytes(b"the 012 tenant's private attachment")
    secret = "the-012-tenant-private-question"
    ids = record(rec, "012", 3, message=secret, files=[LLMFile.from_path(doc)])
    record(rec, "12", 2)
    assert rec.commit()
    maint.compact(rec.lake, before=dt.date(2026, 11, 21))  # merged files, rollups, markers, replaced files
    record(rec, "012", 1, message=secret)  # and one still pending
    report = keep.delete_tenant(rec.lake, "012")
    assert "Delta logs" in report.remains[0]
    for root, _, names in os.walk(rec.lake.root):
        for n in names:
            path = os.path.join(root, n)
            assert "tenant=012" not in path.split("_delta_log")[0], path
            data = Path(path).read_bytes()
            assert secret.encode() not in data and b"private attachment" not in data, path
            assert not any(i.encode() in data for i in ids), path
    assert delta_counts(rec.lake)["deltalake"] == {"12": 2}
    assert Warehouse(rec.lake.url, refresh_interval=0).tenants() == ["12"]


def test_retention_sweeps_attachments_that_no_run_references(make_recorder, tmp_path):
    rec = make_recorder()
    old, new = tmp_path / "old.txt", tmp_path / "new.txt"
    old.write_bytes(b"old attachment")
    new.write_bytes(b"new attachment")
    record(rec, "acme", 1, when=DAY, files=[LLMFile.from_path(old)])
    record(rec, "acme", 1, when=DAY + dt.timedelta(days=3), files=[LLMFile.from_path(new)])
    blobs = {checksums.sha256(b"old attachment"), checksums.sha256(b"new attachment")}
    assert {p.rsplit("/", 1)[1] for p in rec.lake.find("attachments/tenant=acme")} == blobs
    keep.retention(rec.lake, "acme", 2, today=(DAY + dt.timedelta(days=3)).date(), sweep_grace_seconds=0)
    # marked on the first pass (a recorder may have skipped uploading a blob it found), deleted on the next
    assert len(rec.lake.find("attachments/tenant=acme")) == 2
    keep.sweep_attachments(rec.lake, "acme", grace_seconds=0)
    assert {p.rsplit("/", 1)[1] for p in rec.lake.find("attachments/tenant=acme")} == {
        checksums.sha256(b"new attachment")}
    assert Warehouse(rec.lake.url, refresh_interval=0).tenant_totals("acme")["total_runs"][0] == 1


def test_on_s3_the_tables_commit_and_every_upload_carries_its_sha256(make_recorder, s3_lake, moto_s3):
    import boto3

    url, opts = s3_lake
    rec = make_recorder(url, storage_options=opts)
    record(rec, "acme", 2)
    assert rec.commit()
    lake = Lake(url, opts)
    assert DeltaTable(delta.table_uri(lake, "invocations"), storage_options=delta.storage_options(lake)).version() == 0
    s3 = boto3.client("s3", endpoint_url=moto_s3.endpoint, aws_access_key_id="testing",
                      aws_secret_access_key="testing", region_name="us-east-1")
    bucket = url.split("/")[2]
    rel = next(p for p in lake.find("invocations/tenant=acme") if p.endswith(".parquet"))
    head = s3.head_object(Bucket=bucket, Key=f"lake/{rel}", ChecksumMode="ENABLED")
    import base64

    assert base64.b64decode(head["ChecksumSHA256"]).hex() == checksums.sha256(lake.read(rel))
    assert Warehouse(url, storage_options=opts, refresh_interval=0).tenant_totals("acme")["total_runs"][0] == 2
    assert not verify(lake).bad


def test_plain_parquet_readers_of_the_folder_are_exact_outside_a_compaction_window(make_recorder):
    rec = make_recorder()
    record(rec, "12", 3)
    record(rec, "012", 2)
    assert rec.commit()
    DeltaTable(delta.table_uri(rec.lake, "invocations")).create_checkpoint()  # a .parquet in _delta_log
    glob = f"{rec.lake.root}/invocations/tenant=*/date=*/*.parquet"
    duck = dict(duckdb.sql(f"select tenant, count(*) from read_parquet('{glob}', hive_partitioning = true, "
                           "hive_types = {'tenant': VARCHAR}) group by tenant").fetchall())
    scanned = pl.scan_parquet(glob, hive_partitioning=True, hive_schema={"tenant": pl.String, "date": pl.Date})
    polars = dict(scanned.group_by("tenant").len().collect().iter_rows())
    assert duck == polars == {"12": 3, "012": 2}
    assert all(p.endswith(".parquet") and not p.rsplit("/", 1)[1].startswith("_")
               for p in rec.lake.find("invocations/tenant=12"))  # data files only in data folders
    assert sum(pq.read_metadata(rec.lake.path(p)).num_rows for p in rec.lake.find("rounds/tenant=12")) == 3


def test_the_unfiltered_invocation_count_comes_from_the_log_and_equals_the_scan(make_recorder):
    rec = make_recorder()
    record(rec, "acme", 4)
    record(rec, "acme", 3, when=DAY + dt.timedelta(days=1, hours=5))
    assert rec.commit()
    record(rec, "acme", 2, when=DAY + dt.timedelta(days=1, hours=9))  # and two still pending
    wh = Warehouse(rec.lake.url, refresh_interval=0)
    d0, d1 = DAY.date(), DAY.date() + dt.timedelta(days=1)
    for a, b, want in ((d0, d1, 9), (d0, d0, 4), (d1, d1, 5)):
        page, from_log = wh.invocations("acme", a, b, limit=2)
        _, scanned = wh.invocations("acme", a, b, text="", limit=2)  # any filter: counted by the query
        assert from_log == scanned == want and page.height == 2
    # a range that is not whole days is counted by the query
    _, part_day = wh.invocations("acme", DAY, DAY + dt.timedelta(minutes=2))
    assert part_day == 2


def test_a_recorder_forked_after_its_parent_committed_still_commits(make_recorder, tmp_path):
    """delta-rs's runtime does not survive a fork (it panics): a forked worker commits through a
    fresh process instead, and its runs reach the log."""
    rec = make_recorder()
    record(rec, "acme", 2)
    assert rec.commit()  # the parent has used delta-rs
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit code
        code = 1
        try:
            from recorder import Recorder

            child = Recorder(lake=rec.lake.url, spool_dir=str(tmp_path / "child-spool"))
            record(child, "acme", 3, when=DAY + dt.timedelta(hours=2))
            code = 0 if child.commit() and child.stats()["uncommitted_records"] == 0 else 2
            child.shutdown()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not pending.ids(rec.lake)
    assert delta_counts(rec.lake)["deltalake"] == {"acme": 5}


def test_a_table_created_by_an_older_schema_version_gains_the_new_columns(make_recorder, monkeypatch):
    """Schema version 3 appended trace_id and incomplete: the next commit adds them to an existing table's
    metadata (the schema only grows), and deltalake, Polars and DuckDB read old and new rows alike."""
    import pyarrow as pa

    from invlog.lake import SCHEMA_VERSION, TABLES

    assert SCHEMA_VERSION == 3
    v2 = {t: pa.schema([f for f in s if f.name not in ("trace_id", "incomplete")]) for t, s in TABLES.items()}
    rec = make_recorder()
    with monkeypatch.context() as m:
        m.setattr(delta, "schema", lambda table: v2[table])  # the table as a version-2 recorder created it
        record(rec, "acme", 2)
        assert rec.commit()
    uri = delta.table_uri(rec.lake, "invocations")
    assert "trace_id" not in {f.name for f in DeltaTable(uri).schema().fields}
    with rec.invocation(tenant="acme", agent="a", provider="openai", model="gpt-4o",
                        clock=SimClock(DAY + dt.timedelta(hours=1))) as inv, inv.round() as r:
        r.set_response("x", usage={"input_tokens": 5, "output_tokens": 1})
        inv.trace_id, inv.incomplete = "5b8efff798038103d269b633813fc60c", True
    assert rec.commit()
    fields = {f.name for f in DeltaTable(uri).schema().fields}
    assert {"trace_id", "incomplete"} <= fields
    got = pl.read_delta(uri).sort("started_at")
    assert got["trace_id"].to_list()[-1] == "5b8efff798038103d269b633813fc60c" and got["incomplete"].to_list()[-1]
    assert delta_counts(rec.lake) == {"deltalake": {"acme": 3}, "polars": {"acme": 3}, "duckdb": {"acme": 3}}
