"""Keeping the lake healthy: compaction, retention and deleting a tenant.

Compaction merges a partition's small part files into files of a target size
without ever letting a query double-count or miss a row, and leaves the lake
consistent if it crashes at any step (the pattern of Grafana Tempo's compacted
blocks and Thanos's deletion markers):

1. write a marker ``_compacted-<id>.json`` naming the merged file and the files
   it replaces (readers ignore a marker whose merged file does not exist yet);
   markers and rollups live in the partition's side folder
   (``_meta/parts/<table>/tenant=/date=``), never among the data files, so a plain
   Parquet read of the table folder sees data files only (exact once a merge's
   replaced files are deleted);
2. write the merged file (atomically); from now on readers use it and hide the
   replaced files;
3. write the merged file's rollup (``warehouse.rollup``), then bump the tenant's
   generation so that readers' indexes re-list;
4. later, after a grace period, delete the replaced files and their rollups
   (``cleanup``).

Compaction also writes the rollups that large parts lack (a part that needed no
merging), so long-range queries read summaries instead of rows.

Markers are kept after cleanup: they tell a late spool replay that its part was
already published and merged, so replays stay exactly-once.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from invlog.lake import INVOCATIONS, ROUNDS, Lake, conform, file_schema, new_part_id, validate_tenant
from invlog.lake.layout import COMPACTED_PREFIX, bump_generation, side_path
from warehouse import rollup

TABLE_SCHEMAS = {"invocations": file_schema(INVOCATIONS), "rounds": file_schema(ROUNDS)}
Step = Callable[[str], None]
# Row groups of 16k rows: min/max statistics let DuckDB skip most of a day's file when it looks
# up one invocation (a trace took half the time), at a negligible cost to full scans.
ROW_GROUP = 16_384


@dataclass
class CompactionResult:
    partitions: int = 0
    files_merged: int = 0
    files_written: int = 0
    files_deleted: int = 0
    rollups_written: int = 0
    rows: int = 0
    details: list[str] = field(default_factory=list)


def _ls(lake: Lake, rel: str) -> list[dict]:
    try:
        return lake.fs.ls(lake.path(rel), detail=True)
    except FileNotFoundError:
        return []


def _name(entry: dict) -> str:
    return entry["name"].rstrip("/").rsplit("/", 1)[-1]


def partitions(lake: Lake, tenant: str | None = None) -> list[tuple[str, str, dt.date]]:
    """(table, tenant, date) of every partition, optionally of one tenant."""
    out = []
    for table in ("invocations", "rounds"):
        tenants = [tenant] if tenant else [
            _name(e)[7:] for e in _ls(lake, table) if e["type"] == "directory" and _name(e).startswith("tenant=")]
        for t in tenants:
            for e in _ls(lake, f"{table}/tenant={t}"):
                n = _name(e)
                if e["type"] == "directory" and n.startswith("date="):
                    try:
                        out.append((table, t, dt.date.fromisoformat(n[5:])))
                    except ValueError:
                        continue
    return sorted(out)


def _markers(lake: Lake, rel: str, names: set[str], side_names: set[str]) -> list[tuple[str, str, dict]]:
    """(folder, name, marker) of the partition's compaction markers: in its side folder, and
    (written before markers moved there) in the data folder itself."""
    out = []
    for folder, pool in ((side_path(rel), side_names), (rel, names)):
        for n in sorted(pool):
            if n.startswith(COMPACTED_PREFIX) and n.endswith(".json"):
                try:
                    out.append((folder, n, json.loads(lake.read(f"{folder}/{n}"))))
                except (OSError, ValueError):
                    continue
    return out


def live_files(lake: Lake, rel: str) -> tuple[dict[str, int], list[tuple[str, str, dict]], set[str], set[str]]:
    """Live part files of a partition (name -> size), its markers, the names in the data folder
    and the names in its side folder."""
    entries = [e for e in _ls(lake, rel) if e["type"] == "file"]
    names = {_name(e) for e in entries}
    side_names = {_name(e) for e in _ls(lake, side_path(rel)) if e["type"] == "file"}
    markers = _markers(lake, rel, names, side_names)
    hidden = {r for _, _, m in markers if m.get("merged") in names for r in m.get("replaces", [])}
    live = {_name(e): int(e.get("size") or 0) for e in entries
            if _name(e).endswith(".parquet") and not _name(e).startswith((".", "_")) and _name(e) not in hidden}
    return live, markers, names, side_names


def compact_partition(lake: Lake, table: str, tenant: str, date: dt.date, *, target_bytes: int = 128 << 20,
                      step: Step | None = None) -> CompactionResult:
    """Merge the partition's small files; ``step(name)`` is called after each step (tests inject crashes)."""
    validate_tenant(tenant)
    rel = f"{table}/tenant={tenant}/date={date.isoformat()}"
    res = CompactionResult(partitions=1)
    live, _, _, _ = live_files(lake, rel)
    side = side_path(rel)
    small = sorted((n for n, size in live.items() if size < target_bytes // 2), key=lambda n: n)
    groups: list[list[str]] = []
    cur: list[str] = []
    size = 0
    for n in small:
        if cur and size + live[n] > target_bytes:
            groups.append(cur)
            cur, size = [], 0
        cur.append(n)
        size += live[n]
    if cur:
        groups.append(cur)
    for group in groups:
        if len(group) < 2:
            continue
        cid = new_part_id()
        merged = f"c-{cid}.parquet"
        marker = {"merged": merged, "replaces": group, "created_at": dt.datetime.now(dt.UTC).isoformat()}
        lake.put(f"{side}/{COMPACTED_PREFIX}{cid}.json", json.dumps(marker).encode())
        if step:
            step("marker")
        tables = [pq.read_table(io.BytesIO(lake.read(f"{rel}/{n}"))) for n in group]
        merged_table = pa.concat_tables(list(_upgrade(tables, table)))
        merged_table = merged_table.sort_by([("started_at", "ascending")])
        sink = pa.BufferOutputStream()
        pq.write_table(merged_table, sink, compression="zstd", write_page_checksum=True,
                       row_group_size=ROW_GROUP)
        lake.put(f"{rel}/{merged}", sink.getvalue().to_pybytes())
        if step:
            step("merged")
        if table == "invocations":  # after the merged file: a rollup is only ever paired with a live part
            lake.put(f"{side}/{rollup.rollup_name(merged)}", rollup.build(merged_table))
            res.rollups_written += 1
            if step:
                step("rollup")
        bump_generation(lake, tenant)
        if step:
            step("generation")
        res.files_merged += len(group)
        res.files_written += 1
        res.rows += merged_table.num_rows
        res.details.append(f"{rel}: {len(group)} files -> {merged} ({merged_table.num_rows} rows)")
    added = add_rollups(lake, tenant, date, step=step) if table == "invocations" else 0
    if added:
        res.rollups_written += added
        bump_generation(lake, tenant)  # readers re-list the partition and find the rollups
    return res


def add_rollups(lake: Lake, tenant: str, date: dt.date, *, step: Step | None = None) -> int:
    """Write the rollups that the partition's live large or compacted parts lack; returns how many."""
    rel = f"invocations/tenant={tenant}/date={date.isoformat()}"
    live, _, _, side_names = live_files(lake, rel)
    written = 0
    for n in sorted(live):
        if rollup.rollup_name(n) in side_names:
            continue
        if not n.startswith("c-"):
            with lake.fs.open(lake.path(f"{rel}/{n}"), "rb") as f:
                if not rollup.wanted(n, pq.ParquetFile(f).metadata.num_rows):
                    continue
        part = pq.read_table(io.BytesIO(lake.read(f"{rel}/{n}")))
        lake.put(f"{side_path(rel)}/{rollup.rollup_name(n)}", rollup.build(part))
        written += 1
        if step:
            step("rollup")
    return written


def _upgrade(tables: list[pa.Table], table: str) -> Iterable[pa.Table]:
    """Older part files may lack newer columns: add them as nulls (union by name)."""
    for t in tables:
        yield conform(t, TABLE_SCHEMAS[table])


def cleanup(lake: Lake, table: str, tenant: str, date: dt.date, *, grace_seconds: float = 600,
            step: Step | None = None) -> int:
    """Delete files replaced more than ``grace_seconds`` ago; drop abandoned markers. Returns files deleted.

    Derived files that older versions kept in the data folder move out: markers are copied
    to the side folder, then removed; rollups are removed (compaction writes them again in
    the side folder for the parts that want one).
    """
    rel = f"{table}/tenant={tenant}/date={date.isoformat()}"
    side = side_path(rel)
    entries = [e for e in _ls(lake, rel) if e["type"] == "file"]
    names = {_name(e) for e in entries}
    side_names = {_name(e) for e in _ls(lake, side) if e["type"] == "file"}
    deleted = 0
    now = dt.datetime.now(dt.UTC)
    for e in entries:  # temp files of a writer killed mid-write: never visible, removed once stale
        n = _name(e)
        mtime = e.get("mtime") or e.get("created")
        if n.startswith(".") and ".tmp-" in n and mtime and now.timestamp() - float(mtime) >= grace_seconds:
            lake.fs.rm(lake.path(f"{rel}/{n}"))
    for n in sorted(names):
        if n.startswith(COMPACTED_PREFIX) and n.endswith(".json"):
            if n not in side_names:  # copy first: at every moment one of the two is there for readers
                lake.put(f"{side}/{n}", lake.read(f"{rel}/{n}"))
                side_names.add(n)
            lake.fs.rm(lake.path(f"{rel}/{n}"))
            names.discard(n)
        elif n.startswith(rollup.PREFIX):
            lake.fs.rm(lake.path(f"{rel}/{n}"))
            names.discard(n)
    for folder, mname, m in _markers(lake, rel, names, side_names):
        try:
            age = (now - dt.datetime.fromisoformat(m["created_at"])).total_seconds()
        except (KeyError, ValueError):
            continue
        if age < grace_seconds:
            continue
        if m.get("merged") not in names:  # crashed before the merged file was written: forget the attempt
            lake.fs.rm(lake.path(f"{folder}/{mname}"))
            continue
        for n in m.get("replaces", []):
            if n in names:
                lake.fs.rm(lake.path(f"{rel}/{n}"))
                names.discard(n)
                deleted += 1
                if step:
                    step("delete")
            if rollup.rollup_name(n) in side_names:
                lake.fs.rm(lake.path(f"{side}/{rollup.rollup_name(n)}"))
                side_names.discard(rollup.rollup_name(n))
    return deleted


def compact(lake: Lake, *, tenant: str | None = None, before: dt.date | None = None,
            target_bytes: int = 128 << 20, grace_seconds: float = 600, progress: bool = False,
            step: Step | None = None) -> CompactionResult:
    """Compact every partition (of one tenant) dated before ``before`` (default: today, UTC)."""
    before = before or dt.datetime.now(dt.UTC).date()
    todo = [p for p in partitions(lake, tenant) if p[2] < before]
    total = CompactionResult()
    iterator: Iterable = todo
    if progress:
        from tqdm import tqdm

        iterator = tqdm(todo, desc="compacting partitions", unit="partition")
    for table, t, date in iterator:
        r = compact_partition(lake, table, t, date, target_bytes=target_bytes, step=step)
        total.partitions += 1
        total.files_merged += r.files_merged
        total.files_written += r.files_written
        total.rollups_written += r.rollups_written
        total.rows += r.rows
        total.details.extend(r.details)
        total.files_deleted += cleanup(lake, table, t, date, grace_seconds=grace_seconds, step=step)
    return total


def retention(lake: Lake, tenant: str, keep_days: int, *, dry_run: bool = False,
              today: dt.date | None = None) -> list[str]:
    """Keep the last ``keep_days`` UTC days (today included), delete older partitions; returns what goes."""
    validate_tenant(tenant)
    if type(keep_days) is not int or keep_days < 1:
        raise ValueError(f"keep_days: expected a positive integer, got {keep_days!r}")
    cutoff = (today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=keep_days - 1)
    doomed = [f"{table}/tenant={t}/date={d.isoformat()}" for table, t, d in partitions(lake, tenant) if d < cutoff]
    if not dry_run:
        for rel in doomed:
            lake.fs.rm(lake.path(rel), recursive=True)
            if lake.fs.exists(lake.path(side_path(rel))):  # its markers and rollups
                lake.fs.rm(lake.path(side_path(rel)), recursive=True)
        if doomed:
            bump_generation(lake, tenant)
    return doomed


def delete_tenant(lake: Lake, tenant: str, *, dry_run: bool = False) -> list[str]:
    """Delete everything stored for a tenant; returns the folders that go (or would).

    Data, attachments, memory, and the tenant's metadata (markers, rollups, generation). A
    reader's index drops the tenant's partitions on its next refresh (the folders are gone).
    """
    validate_tenant(tenant)
    folders = [f"invocations/tenant={tenant}", f"rounds/tenant={tenant}", f"attachments/tenant={tenant}",
               f"_memory/tenant={tenant}", side_path(f"invocations/tenant={tenant}"),
               side_path(f"rounds/tenant={tenant}"), f"_meta/tenant={tenant}"]
    doomed = [rel for rel in folders if lake.fs.exists(lake.path(rel))]
    if not dry_run:
        for rel in doomed:
            lake.fs.rm(lake.path(rel), recursive=True)
    return doomed

