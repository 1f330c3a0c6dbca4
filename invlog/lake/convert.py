"""Converting a lake of plain part files (written before the Delta log) into Delta tables.

``convert`` lists the table's partitions, takes each partition's live part files
(a file replaced by a compaction marker whose merged file exists is left out, as
readers of that version did; a file a pending record names is left to its
committer), reads each file once for its SHA-256, row count and statistics,
records the digests and creates the table's first version with one add action
per file. It never rewrites or moves a data file. It is idempotent (a
table that exists is left alone) and safe while new recorders write: their parts
carry pending records and are committed by their own committer. Parts written
after the listing by a recorder of the older version carry no record; ``convert``
reports how many plain files it left unregistered on a later run (``unregistered``).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import pyarrow.parquet as pq

from invlog.lake import checksums, delta, markers, pending
from invlog.lake.delta import FileEntry
from invlog.lake.layout import TENANT_RE, file_path, log_path, partition_path, tenant_path
from invlog.lake.storage import Lake


def _dirs(lake: Lake, rel: str, prefix: str) -> list[str]:
    return sorted(e.name[len(prefix):] for e in lake.entries(rel) if e.is_dir and e.name.startswith(prefix))


def plain_files(lake: Lake, table: str) -> list[tuple[str, str, str]]:
    """(tenant, date, name) of every live plain part file of the table's folders."""
    out: list[tuple[str, str, str]] = []
    for tenant in _dirs(lake, table, "tenant="):
        if not TENANT_RE.fullmatch(tenant):  # not a folder the lake wrote: never a path to follow
            continue
        for date in _dirs(lake, tenant_path(table, tenant), "date="):
            rel = partition_path(table, tenant, date)
            names = set(lake.names(rel))
            hidden = {r for _, _, m in markers.read(lake, rel) if m.get("merged") in names
                      for r in m.get("replaces", [])}
            out.extend((tenant, date, n) for n in sorted(names)
                       if n.endswith(".parquet") and not n.startswith((".", "_")) and n not in hidden)
    return out


def entry_for(lake: Lake, table: str, tenant: str, date: str, name: str) -> FileEntry:
    """The file entry of an existing part file, read back from storage.

    A file that cannot be read is still registered, without statistics (so no engine trusts a
    row count for it): queries then name it, and ``verify`` reports it, as before conversion.
    """
    data = lake.read(file_path(table, tenant, date, name))
    try:
        pf = pq.ParquetFile(io.BytesIO(data))
        part = pf.read(columns=[c for c in delta.STATS_COLUMNS[table] if c in pf.schema_arrow.names])
        rows, stats = pf.metadata.num_rows, delta.file_stats(table, part)
    except Exception:
        rows, stats = 0, "{}"
    return FileEntry(table, log_path(tenant, date, name), tenant, date, len(data), rows, int(time.time() * 1000),
                     checksums.sha256(data), stats)


def convert(lake: Lake, table: str, *, progress: Callable[[int, int], None] | None = None) -> int:
    """Create the Delta table over the existing plain parts; returns files registered (0: it existed)."""
    if delta.exists(lake, table):
        return 0
    named = {e.path for rid in pending.ids(lake) for e in pending.read(lake, rid) or [] if e.table == table}
    files = [f for f in plain_files(lake, table) if log_path(*f) not in named]
    entries = []
    for i, (tenant, date, name) in enumerate(files):
        entries.append(entry_for(lake, table, tenant, date, name))
        if progress:
            progress(i + 1, len(files))
    checksums.record(lake, entries)
    delta.commit(lake, table, entries, operation="convert")
    return len(entries)


def unregistered(lake: Lake, table: str) -> list[str]:
    """Plain part files in the table's folders that neither the log nor a pending record names."""
    dtab = delta.open_table(lake, table)
    if dtab is None:
        return [file_path(table, t, d, n) for t, d, n in plain_files(lake, table)]
    known = set(delta.live_entries(dtab).column("path").to_pylist())
    for rid in pending.ids(lake):
        known.update(e.path for e in pending.read(lake, rid) or [] if e.table == table)
    return [file_path(table, t, d, n) for t, d, n in plain_files(lake, table) if log_path(t, d, n) not in known]
