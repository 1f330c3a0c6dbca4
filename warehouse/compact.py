"""Compaction: a partition's small part files merged into large ones, as Delta transactions.

For each group of small committed files of a partition (files still named by a
pending record are left alone):

1. write a marker ``_compacted-<id>.json`` in the side folder, naming the merged
   file and the files it replaces (a late replay of a replaced part then knows it
   was published, and a stale committer does not add it back);
2. write the merged file (sorted by ``started_at``, 16k-row groups) and, for
   invocations, its rollup; record the merged file's SHA-256;
3. commit, in one Delta transaction, the merged file's add and the replaced files'
   removes; then bump the tenant's generation so readers re-read rollups.

A crash before step 3 leaves the table as it was (the merged file is an orphan
that ``cleanup`` deletes); after it, every reader sees the new file set at once.
``cleanup`` then vacuums replaced files once they are older than the retention
(default 7 days, which is how far time travel reaches; ``grace_seconds``
overrides), drops rollups of parts that are no longer live, finishes abandoned
merges and moves derived files that older versions kept in data folders.
Compaction also writes the rollups that large parts lack.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from invlog.lake import Lake, checksums, conform, delta, markers, new_part_id, pending
from invlog.lake.commit import commit_pending
from invlog.lake.delta import FileEntry, Removal
from invlog.lake.files import FILE_SCHEMAS, parquet_bytes
from invlog.lake.layout import bump_generation, file_path, log_path, partition_path, side_path, tenant_path
from warehouse import rollup, toplist

Step = Callable[[str], None]
# Row groups of 16k rows: min/max statistics let DuckDB skip most of a day's file when it looks
# up one invocation (a trace took half the time), at a negligible cost to full scans.
ROW_GROUP = 16_384
DEFAULT_GRACE = delta.RETENTION.total_seconds()
ABANDONED_AFTER = 60.0  # a merge this old that has not committed was killed: undo it


@dataclass
class CompactionResult:
    partitions: int = 0
    files_merged: int = 0
    files_written: int = 0
    files_deleted: int = 0
    rollups_written: int = 0
    rows: int = 0
    details: list[str] = field(default_factory=list)


def partitions(lake: Lake, tenant: str | None = None) -> list[tuple[str, str, dt.date]]:
    """(table, tenant, date) of every committed partition, optionally of one tenant."""
    out = []
    for table in delta.NAMES:
        out.extend((table, t, dt.date.fromisoformat(d)) for t, d in delta.committed(lake, table, tenant))
    return sorted(out)


def _write_merged(lake: Lake, table: str, tenant: str, date: dt.date, merged: str,
                  merged_table: pa.Table) -> FileEntry:
    data = parquet_bytes(merged_table, row_group_size=ROW_GROUP)
    digest = checksums.sha256(data)
    lake.put(file_path(table, tenant, date, merged), data, sha256=digest)
    return FileEntry(table, log_path(tenant, date, merged), tenant, date.isoformat(), len(data), merged_table.num_rows,
                     time.time_ns() // 1_000_000, digest, delta.file_stats(table, merged_table))


def compact_partition(lake: Lake, table: str, tenant: str, date: dt.date, *, target_bytes: int = 128 << 20,
                      step: Step | None = None, live: dict[str, int] | None = None,
                      busy: set[str] | None = None) -> CompactionResult:
    """Merge the partition's small committed files; ``step(name)`` is called after each step (tests
    inject crashes). ``live``: the partition's committed files (name -> size); ``busy``: paths from
    the root that a pending record names (left alone)."""
    rel = partition_path(table, tenant, date)
    res = CompactionResult(partitions=1)
    if live is None:
        live = delta.committed(lake, table, tenant).get((tenant, date.isoformat()), {})
    busy = busy if busy is not None else pending.paths(lake)
    side = side_path(rel)
    in_flight = _abandoned_merges(lake, rel, live, step)
    small = sorted(n for n, size in live.items()
                   if size < target_bytes // 2 and f"{rel}/{n}" not in busy and n not in in_flight)
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
        markers.write(lake, rel, cid, merged, group)
        if step:
            step("marker")
        tables = [pq.read_table(io.BytesIO(lake.read(f"{rel}/{n}"))) for n in group]
        merged_table = pa.concat_tables(list(_upgrade(tables, table)))
        merged_table = merged_table.sort_by([("started_at", "ascending")])
        entry = _write_merged(lake, table, tenant, date, merged, merged_table)
        if step:
            step("merged")
        if table == "invocations":  # before the commit: a committed compacted part has its rollup
            lake.put(f"{side}/{rollup.rollup_name(merged)}", rollup.build(merged_table))
            lake.put(f"{side}/{toplist.toplist_name(merged)}", toplist.build(merged_table))
            res.rollups_written += 1
            if step:
                step("rollup")
        checksums.record(lake, [entry], cid)
        removes = [Removal(log_path(tenant, date, n), tenant, date.isoformat(), live[n]) for n in group]
        delta.commit(lake, table, [entry], removes, operation="compact")
        if step:
            step("commit")
        bump_generation(lake, tenant)
        if step:
            step("generation")
        res.files_merged += len(group)
        res.files_written += 1
        res.rows += merged_table.num_rows
        res.details.append(f"{rel}: {len(group)} files -> {merged} ({merged_table.num_rows} rows)")
    if table == "invocations" and res.files_written:  # the merges changed the partition's files
        live = delta.committed(lake, table, tenant).get((tenant, date.isoformat()), {})
    added = add_rollups(lake, tenant, date, step=step, live=live) if table == "invocations" else 0
    if added:
        res.rollups_written += added
        bump_generation(lake, tenant)  # readers re-list the rollups
    return res


def _abandoned_merges(lake: Lake, rel: str, live: dict[str, int], step: Step | None) -> set[str]:
    """Undo merges that never committed (their marker's files are all still live); returns the files
    of a younger such merge, which another maintenance pass may be committing right now."""
    side = side_path(rel)
    busy: set[str] = set()
    now = dt.datetime.now(dt.UTC)
    for folder, mname, m in markers.read(lake, rel):
        merged, replaces = m.get("merged"), m.get("replaces", [])
        if folder != side or merged in live or not replaces or not all(r in live for r in replaces):
            continue  # committed (or history): keep the marker for replays
        try:
            age = (now - dt.datetime.fromisoformat(m["created_at"])).total_seconds()
        except (KeyError, ValueError):
            age = float("inf")
        if age < ABANDONED_AFTER:
            busy.update(replaces)
            continue
        for path in (f"{rel}/{merged}", f"{side}/{rollup.rollup_name(merged)}",
                     f"{side}/{toplist.toplist_name(merged)}", f"{side}/{mname}"):
            lake.remove(path)
        if step:
            step("undo")
    return busy


def add_rollups(lake: Lake, tenant: str, date: dt.date, *, step: Step | None = None,
                live: dict[str, int] | None = None) -> int:
    """Write the rollups (and top lists) that the partition's live large or compacted parts lack;
    returns how many. ``live``: the partition's committed files, if the caller has them."""
    rel = partition_path("invocations", tenant, date)
    if live is None:
        live = delta.committed(lake, "invocations", tenant).get((tenant, date.isoformat()), {})
    side_names = set(lake.names(side_path(rel)))
    written = 0
    for n in sorted(live):
        if rollup.rollup_name(n) in side_names and toplist.toplist_name(n) in side_names:
            continue
        if not n.startswith("c-"):
            with lake.open(f"{rel}/{n}") as f:
                if not rollup.wanted(n, pq.ParquetFile(f).metadata.num_rows):
                    continue
        part = pq.read_table(io.BytesIO(lake.read(f"{rel}/{n}")))
        lake.put(f"{side_path(rel)}/{rollup.rollup_name(n)}", rollup.build(part))
        lake.put(f"{side_path(rel)}/{toplist.toplist_name(n)}", toplist.build(conform(part, FILE_SCHEMAS[
            "invocations"])))
        written += 1
        if step:
            step("rollup")
    return written


def _upgrade(tables: list[pa.Table], table: str) -> Iterable[pa.Table]:
    """Older part files may lack newer columns: add them as nulls (union by name)."""
    for t in tables:
        yield conform(t, FILE_SCHEMAS[table])


def vacuum(lake: Lake, *, grace_seconds: float = DEFAULT_GRACE) -> int:
    """Delete the files removed from the tables more than ``grace_seconds`` ago; returns how many.

    Only files the log removed are deleted (delta-rs "lite" vacuum): pending files, which the
    log does not know yet, are never touched.
    """
    hours = math.ceil(grace_seconds / 3600)
    deleted = 0
    for table in delta.NAMES:
        dtab = delta.open_table(lake, table)
        if dtab is not None:
            deleted += len(dtab.vacuum(retention_hours=hours, dry_run=False, enforce_retention_duration=False))
    return deleted


def cleanup(lake: Lake, table: str, tenant: str, date: dt.date, *, grace_seconds: float = DEFAULT_GRACE,
            live: dict[str, int] | None = None) -> int:
    """Tidy one partition's derived files; returns the stale temporary files deleted.

    Rollups of parts that are no longer live go (a rollup is only ever used with a live part).
    Markers and rollups that older versions kept in the data folder move out (markers copied
    first, so one of the two is always there); temp files of a killed writer go once stale.
    """
    rel = partition_path(table, tenant, date)
    side = side_path(rel)
    if live is None:
        live = delta.committed(lake, table, tenant).get((tenant, date.isoformat()), {})
    side_names = set(lake.names(side))
    now = time.time()
    deleted = 0
    for e in lake.entries(rel):
        n = e.name
        if e.is_dir:
            continue
        if n.startswith(".") and ".tmp-" in n and e.mtime and now - e.mtime >= grace_seconds:
            lake.remove(f"{rel}/{n}")
            deleted += 1
        elif markers.is_marker(n):
            if n not in side_names:
                lake.put(f"{side}/{n}", lake.read(f"{rel}/{n}"))
                side_names.add(n)
            lake.remove(f"{rel}/{n}")
        elif n.startswith(rollup.PREFIX):
            lake.remove(f"{rel}/{n}")
    for n in sorted(side_names):  # rollups and top lists are only ever used with a live part
        for prefix in (rollup.PREFIX, toplist.PREFIX):
            if n.startswith(prefix) and n[len(prefix):] not in live:
                lake.remove(f"{side}/{n}")
    return deleted


def compact(lake: Lake, *, tenant: str | None = None, before: dt.date | None = None,
            target_bytes: int = 128 << 20, grace_seconds: float = DEFAULT_GRACE, progress: bool = False,
            step: Step | None = None) -> CompactionResult:
    """Commit what dead recorders left pending, then compact every partition (of one tenant) dated
    before ``before`` (default: today, UTC), then vacuum and tidy."""
    commit_pending(lake)
    before = before or dt.datetime.now(dt.UTC).date()
    busy = pending.paths(lake)
    todo = [(table, t, d, files) for table in delta.NAMES
            for (t, d), files in delta.committed(lake, table, tenant).items() if dt.date.fromisoformat(d) < before]
    todo.sort(key=lambda x: (x[0], x[1], x[2]))
    total = CompactionResult()
    iterator: Iterable = todo
    if progress:
        from tqdm import tqdm

        iterator = tqdm(todo, desc="compacting partitions", unit="partition")
    for table, t, d, files in iterator:
        date = dt.date.fromisoformat(d)
        r = compact_partition(lake, table, t, date, target_bytes=target_bytes, step=step, live=files, busy=busy)
        total.partitions += 1
        total.files_merged += r.files_merged
        total.files_written += r.files_written
        total.rollups_written += r.rollups_written
        total.rows += r.rows
        total.details.extend(r.details)
    total.files_deleted += vacuum(lake, grace_seconds=grace_seconds)
    after = {table: delta.committed(lake, table, tenant) for table in delta.NAMES}
    for table in delta.NAMES:
        for (t, d), files in sorted(after[table].items()):
            if dt.date.fromisoformat(d) < before:
                total.files_deleted += cleanup(lake, table, t, dt.date.fromisoformat(d),
                                               grace_seconds=grace_seconds, live=files)
    for t in sorted({t for table in delta.NAMES for (t, _) in after[table]}):
        live_paths = [file_path(table, t, d, n) for table in delta.NAMES
                      for (tt, d), files in after[table].items() if tt == t for n in files]
        mine = tuple(tenant_path(table, t) + "/" for table in delta.NAMES)
        checksums.consolidate(lake, t, live_paths + sorted(p for p in busy if p.startswith(mine)), new_part_id())
    return total
