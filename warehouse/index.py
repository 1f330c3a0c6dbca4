"""An in-memory index of the lake's part files, per tenant, refreshed incrementally.

Listing folders is the slow part of querying a lake (about 130 ms a query for 1,800
folders locally, far more on S3), so queries never list: they ask this index for
the live files of one tenant's partitions in a date range. A refresh lists the
tenant's date folders, and re-lists only partitions that are new or recent (today
and yesterday) unless the tenant's generation marker changed (compaction,
retention and late replays bump it), in which case every partition is re-listed.

Compaction leaves ``_compacted-<id>.json`` markers in a partition naming the
merged file and the files it replaces; the index hides replaced files once the
merged file exists, so no query double-counts or misses a row. Each new file's
Parquet footer is read once (row count for totals, and a health check): a file
that cannot be read is reported, never silently skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from invlog.lake import Lake, validate_tenant
from invlog.lake.layout import COMPACTED_PREFIX, generation_path, side_path
from warehouse.rollup import rollup_name


@dataclass
class Partition:
    files: dict[str, int] = field(default_factory=dict)  # live part name -> rows
    bad: list[str] = field(default_factory=list)
    rollups: dict[str, str] = field(default_factory=dict)  # live part name -> its readable rollup


@dataclass
class TenantIndex:
    parts: dict[tuple[str, dt.date], Partition] = field(default_factory=dict)
    refreshed: float = float("-inf")  # monotonic time starts near 0 at boot: never "fresh" at first
    generation: str | None = None


class PartIndex:
    def __init__(self, lake: Lake, refresh_interval: float = 2.0):
        self.lake, self.refresh_interval = lake, refresh_interval
        self._tenants: dict[str, TenantIndex] = {}
        self._rows: dict[str, int | None] = {}  # full path -> rows (None: unreadable); files are immutable
        self._markers: dict[str, dict] = {}
        self._lock = threading.Lock()

    def _ls(self, rel: str) -> list[tuple[str, str]]:
        """(name, type) of the entries of a folder; empty if it does not exist."""
        try:
            entries = self.lake.fs.ls(self.lake.path(rel), detail=True)
        except FileNotFoundError:
            return []
        return [(e["name"].rstrip("/").rsplit("/", 1)[-1], e["type"]) for e in entries]

    def _footer_rows(self, path: str) -> int | None:
        if path not in self._rows:
            try:
                with self.lake.fs.open(path, "rb") as f:
                    self._rows[path] = pq.ParquetFile(f).metadata.num_rows
            except Exception:
                self._rows[path] = None
        return self._rows[path]

    def _list_partition(self, table: str, tenant: str, date: dt.date) -> Partition:
        rel = f"{table}/tenant={tenant}/date={date.isoformat()}"
        names = [n for n, t in self._ls(rel) if t == "file"]
        side = side_path(rel)
        side_names = {n for n, t in self._ls(side) if t == "file"}
        hidden: set[str] = set()
        # markers in the side folder, and (lakes written before they moved) in the data folder
        for folder, pool in ((side, sorted(side_names)), (rel, names)):
            for n in pool:
                if not (n.startswith(COMPACTED_PREFIX) and n.endswith(".json")):
                    continue
                path = self.lake.path(f"{folder}/{n}")
                if path not in self._markers:
                    try:
                        self._markers[path] = json.loads(self.lake.read(f"{folder}/{n}"))
                    except Exception:
                        self._markers[path] = {}
                m = self._markers[path]
                if m.get("merged") in names:  # the merged file is published: it replaces the others
                    hidden.update(m.get("replaces", []))
        part = Partition()
        for n in sorted(names):
            if n.endswith(".parquet") and not n.startswith((".", "_")) and n not in hidden:
                path = self.lake.path(f"{rel}/{n}")
                rows = self._footer_rows(path)
                if rows is None:
                    part.bad.append(self.lake.uri(f"{rel}/{n}"))
                else:
                    part.files[n] = rows
                    r = rollup_name(n)
                    # an unreadable rollup is ignored (the part is read raw), never an error
                    if r in side_names and self._footer_rows(self.lake.path(f"{side}/{r}")) is not None:
                        part.rollups[n] = f"{side}/{r}"
        return part

    def _refresh(self, tenant: str, idx: TenantIndex, force: bool) -> None:
        try:
            gen = self.lake.read(generation_path(tenant)).decode()
        except (FileNotFoundError, OSError):
            gen = None
        full = force or gen != idx.generation
        recent = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
        seen: set[tuple[str, dt.date]] = set()
        for table in ("invocations", "rounds"):
            for name, kind in self._ls(f"{table}/tenant={tenant}"):
                if kind != "directory" or not name.startswith("date="):
                    continue
                try:
                    date = dt.date.fromisoformat(name[5:])
                except ValueError:
                    continue
                key = (table, date)
                seen.add(key)
                if full or key not in idx.parts or date >= recent:
                    idx.parts[key] = self._list_partition(table, tenant, date)
        for key in list(idx.parts):
            if key not in seen:
                del idx.parts[key]
        idx.generation = gen
        idx.refreshed = time.monotonic()

    def tenant(self, tenant: str, *, force: bool = False) -> TenantIndex:
        validate_tenant(tenant)
        with self._lock:
            idx = self._tenants.setdefault(tenant, TenantIndex())
            if force or time.monotonic() - idx.refreshed >= self.refresh_interval:
                self._refresh(tenant, idx, force)
            return idx

    def files(self, table: str, tenant: str, start: dt.date | None = None,
              end: dt.date | None = None) -> tuple[list[str], list[str], int]:
        """(paths for DuckDB, unreadable files, rows) of a tenant's partitions in [start, end]."""
        paths, _, bad, rows = self.files_with_rollups(table, tenant, start, end, None)
        return paths, bad, rows

    def files_with_rollups(self, table: str, tenant: str, start: dt.date | None, end: dt.date | None,
                           whole: tuple[dt.date, dt.date] | None) -> tuple[list[str], list[str], list[str], int]:
        """Like ``files``, but a part with a rollup in a day of ``whole`` (both ends included) gives its
        rollup instead: (raw part paths, rollup paths, unreadable files, rows)."""
        idx = self.tenant(tenant)
        paths, rollups, bad, rows = [], [], [], 0
        for (t, date), part in sorted(idx.parts.items()):
            if t != table or (start and date < start) or (end and date > end):
                continue
            rel = f"{table}/tenant={tenant}/date={date.isoformat()}"
            use = whole is not None and whole[0] <= date <= whole[1]
            for n, r in part.files.items():
                if use and n in part.rollups:
                    rollups.append(self.lake.uri(part.rollups[n]))  # a path from the lake root
                else:
                    paths.append(self.lake.uri(f"{rel}/{n}"))
                rows += r
            bad.extend(part.bad)
        return paths, rollups, bad, rows

    def tenants(self) -> list[str]:
        return sorted(n[7:] for n, kind in self._ls("invocations") if kind == "directory" and n.startswith("tenant="))

    def invalidate(self, tenant: str | None = None) -> None:
        with self._lock:
            if tenant is None:
                self._tenants.clear()
            else:
                self._tenants.pop(tenant, None)
