"""Publishing Arrow batches as Parquet part files, one per partition and table.

A part file is named by the id of the spool segment (or batch) it came from, so
publishing the same segment twice writes the same names: a part that already
exists is skipped, which makes replay after a crash exactly-once. Rounds are
published before invocations, so a visible invocation always has its rounds.
Files are written as every lake file is (``invlog.lake.files``); the partition
columns are dropped (they live only in the path and the Delta log). After the files, one pending
record (``invlog.lake.pending``) names them with their SHA-256 and statistics:
readers see them from then on, and the committer registers them in the log.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from invlog.lake import PARTITION_KEYS, Lake, checksums, conform, convert, delta, pending
from invlog.lake.delta import FileEntry
from invlog.lake.files import FILE_SCHEMAS, parquet_bytes
from invlog.lake.layout import bump_generation, file_path, log_path

_EPOCH = dt.date(1970, 1, 1)


def _partitions(table: pa.Table) -> list[tuple[tuple[str, int], pa.Table]]:
    """The table split by (tenant, day), in key order; one sort and zero-copy slices.

    Compute kernels only: ``Table.group_by`` would import Acero, the dataset module
    and pandas into the agent's process (60,000 more objects for every full
    collection of the garbage collector to walk, for as long as the agent runs).
    """
    tenants, days = table.column("tenant"), table.column("date").cast(pa.int32())
    one_tenant, one_day = pc.unique(tenants), pc.unique(days)
    if len(one_tenant) == 1 and len(one_day) == 1:  # the usual batch: one tenant, one day; no copy at all
        return [((one_tenant[0].as_py(), one_day[0].as_py()), table)]
    order = pc.sort_indices(pa.table({"tenant": tenants, "day": days}),
                            sort_keys=[("tenant", "ascending"), ("day", "ascending")])
    ordered = table.take(order)
    keys = list(zip(ordered.column("tenant").to_pylist(), ordered.column("date").cast(pa.int32()).to_pylist(),
                    strict=True))
    out, start = [], 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out.append((keys[start], ordered.slice(start, i - start)))
            start = i
    return out


def publish(lake: Lake, part_id: str, invocations: Sequence[pa.Table], rounds: Sequence[pa.Table],
            already_published: Callable[[str], bool] | None = None) -> tuple[int, int, int, str | None]:
    """Write the batch's part files and its pending record.

    Returns (invocations, rounds) now in the lake, files newly written, and the id of the pending
    record naming them (None when the batch wrote no file).
    """
    exists = already_published or lake.exists
    counts = {"invocations": 0, "rounds": 0}
    files = 0
    entries: list[FileEntry] = []
    recent = (dt.datetime.now(dt.UTC).date() - _EPOCH).days - 1
    old_tenants: set[str] = set()
    for name, tables in (("rounds", rounds), ("invocations", invocations)):
        if not tables:
            continue
        table = pa.concat_tables(tables) if len(tables) > 1 else tables[0]
        if table.num_rows == 0:
            continue
        for (tenant, day), part in _partitions(table):
            date = _EPOCH + dt.timedelta(days=day)
            rel = file_path(name, tenant, date, f"{part_id}.parquet")
            if exists(rel):  # published by an earlier attempt (maybe one whose reply was lost): persisted
                counts[name] += part.num_rows
                if lake.exists(rel):  # not merged away: its record may be the one that was lost
                    entries.append(convert.entry_for(lake, name, tenant, date.isoformat(), f"{part_id}.parquet"))
                continue
            part = part.drop_columns(list(PARTITION_KEYS))
            # conform: a spool segment written by an older recorder lacks the newer columns
            data = parquet_bytes(conform(part, FILE_SCHEMAS[name]))
            digest = checksums.sha256(data)
            lake.put(rel, data, sha256=digest)
            entries.append(FileEntry(name, log_path(tenant, date, f"{part_id}.parquet"), tenant, date.isoformat(),
                                     len(data), part.num_rows, time.time_ns() // 1_000_000, digest,
                                     delta.file_stats(name, part)))
            counts[name] += part.num_rows
            files += 1
            if day < recent:
                old_tenants.add(tenant)
    record = None
    if entries:  # after the files: a record only ever names files that exist
        pending.write(lake, part_id, entries)
        record = part_id
    for tenant in sorted(old_tenants):  # a late replay into an old partition: readers re-read its rollups
        bump_generation(lake, tenant)
    return counts["invocations"], counts["rounds"], files, record
