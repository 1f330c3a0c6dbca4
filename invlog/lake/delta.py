"""The two tables as Delta Lake tables: schema, properties, file entries and commits.

``<lake>/invocations`` and ``<lake>/rounds`` are Delta tables partitioned by
``tenant`` (a string: ``012`` and ``12`` stay apart) and ``date``, over the same
Hive-style data paths the recorder has always written. We write the Parquet files
ourselves and register them with add actions (``deltalake``'s transaction API), so
a part file is never rewritten. Column statistics in the log cover times and
integer counts only (``STATS_COLUMNS``, also set as ``delta.dataSkippingStatsColumns``
for other writers): the log never carries text such as messages or prompts.
Removed files stay readable for ``RETENTION`` (time travel) until vacuumed.

A commit that loses a race is retried here with jittered backoff; one that still
fails raises ``CommitError`` and the caller keeps its files pending (nothing is
lost: the files exist and the pending record names them).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from invlog.lake.storage import Lake
from invlog.lake.tables import TABLES

NAMES = ("invocations", "rounds")
PARTITION_BY = ["tenant", "date"]
RETENTION = dt.timedelta(days=7)  # removed files kept for time travel, then vacuumed
LOG_RETENTION = dt.timedelta(days=30)  # log entries (which name tenants) age out after this
# Times and counts only: no text, and no ids either, so that after a tenant is deleted the log's
# history holds its partition values, times and counts but nothing that identifies a run.
STATS_COLUMNS = {
    "invocations": ("started_at", "ended_at", "input_tokens", "output_tokens", "round_count"),
    "rounds": ("round_index", "started_at", "ended_at", "input_tokens", "output_tokens"),
}
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_STAT_CHARS = 32  # longer strings get no min/max (a truncated bound needs care; omitting is always safe)


class CommitError(RuntimeError):
    """A commit to the Delta log failed after its retries; the caller's files stay pending."""


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One data file as the log and the pending records know it."""

    table: str
    path: str  # relative to the table's root: tenant=<t>/date=<d>/<name>.parquet
    tenant: str
    date: str  # YYYY-MM-DD
    size: int
    rows: int
    mtime_ms: int
    sha256: str
    stats: str  # the Delta stats JSON

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FileEntry:
        return cls(**{k: d[k] for k in cls.__slots__})

    @property
    def rel(self) -> str:
        """The path from the lake root."""
        return f"{self.table}/{self.path}"


def schema(table: str) -> pa.Schema:
    """The Delta schema: the table's one definition, partition columns included."""
    return TABLES[table]


def configuration(table: str, retention: dt.timedelta = RETENTION,
                  log_retention: dt.timedelta = LOG_RETENTION) -> dict[str, str]:
    return {
        "delta.dataSkippingStatsColumns": ",".join(STATS_COLUMNS[table]),
        "delta.deletedFileRetentionDuration": f"interval {int(retention.total_seconds() // 3600)} hours",
        "delta.logRetentionDuration": f"interval {int(log_retention.total_seconds() // 3600)} hours",
        "delta.checkpointInterval": "100",
    }


def table_uri(lake: Lake, table: str) -> str:
    return lake.path(table) if lake.is_local else f"{lake.url}/{table}"


def storage_options(lake: Lake) -> dict[str, str] | None:
    """delta-rs object-store options equal to the lake's s3fs settings (None locally).

    Taken from the options the lake was opened with (s3fs's ``endpoint_url``, ``key``,
    ``secret``, ``token``, ``client_kwargs``); what is not given there delta-rs reads from the
    usual ``AWS_*`` environment variables, as s3fs does. Commits on S3 use conditional puts
    (``If-None-Match``), so no lock service is needed.
    """
    if lake.is_local:
        return None
    given: dict[str, Any] = lake.storage_options
    client = dict(given.get("client_kwargs") or {})
    fs: Any = lake.fs
    opts = {"conditional_put": "etag"}
    endpoint = given.get("endpoint_url") or client.get("endpoint_url") or getattr(fs, "endpoint_url", None)
    if endpoint:
        opts["AWS_ENDPOINT_URL"] = endpoint
        if str(endpoint).startswith("http://"):
            opts["AWS_ALLOW_HTTP"] = "true"
    key = given.get("key") or client.get("aws_access_key_id")
    secret = given.get("secret") or client.get("aws_secret_access_key")
    if key and secret:
        opts["AWS_ACCESS_KEY_ID"], opts["AWS_SECRET_ACCESS_KEY"] = key, secret
    token = given.get("token") or client.get("aws_session_token")
    if token:
        opts["AWS_SESSION_TOKEN"] = token
    region = client.get("region_name")
    if region:
        opts["AWS_REGION"] = region
    elif "AWS_REGION" not in os.environ and "AWS_DEFAULT_REGION" not in os.environ:
        opts["AWS_REGION"] = "us-east-1"
    return opts


def exists(lake: Lake, table: str) -> bool:
    """Whether the table has a log (its first commit may have been cleaned up: any entry counts)."""
    return any(n.endswith(".json") or ".checkpoint." in n for n in lake.names(f"{table}/_delta_log"))


_runtime_pid: int | None = None  # the process whose delta-rs runtime (tokio) this interpreter holds


def usable_here() -> bool:
    """False in a process forked after its parent used delta-rs: tokio's runtime does not survive a
    fork (delta-rs panics), so such a child must commit through a fresh process."""
    return _runtime_pid in (None, os.getpid())


def _mark_runtime() -> None:
    global _runtime_pid
    if _runtime_pid is None:
        _runtime_pid = os.getpid()


def open_table(lake: Lake, table: str, version: int | str | dt.datetime | None = None) -> Any | None:
    """The ``DeltaTable`` (at ``version``: a number, or a time), or None when the table does not exist."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    _mark_runtime()
    try:
        dt_ = DeltaTable(table_uri(lake, table), storage_options=storage_options(lake))
    except TableNotFoundError:
        return None
    if version is not None:
        dt_.load_as_version(version)
    return dt_


_open: dict[str, Any] = {}  # table URI -> DeltaTable, brought up to date before each commit


def _latest(lake: Lake, table: str) -> Any | None:
    """The table at its latest version, reading only the commits since this process last looked."""
    uri = table_uri(lake, table)
    dtab = _open.get(uri)
    if dtab is None:
        dtab = open_table(lake, table)
        if dtab is None:
            return None
        _open[uri] = dtab
    else:
        try:
            dtab.update_incremental()
        except Exception:  # the table was replaced or the log is unreadable: open it afresh
            _open.pop(uri, None)
            return open_table(lake, table)
    return dtab


def file_stats(table: str, part: pa.Table) -> str:
    """Delta statistics of a part file, for the columns in ``STATS_COLUMNS`` that it has."""
    mins: dict[str, Any] = {}
    maxs: dict[str, Any] = {}
    nulls: dict[str, int] = {}
    for name in STATS_COLUMNS[table]:
        if name not in part.column_names:
            continue
        col = part.column(name)
        nulls[name] = col.null_count
        if col.null_count == len(col):
            continue
        is_ts = pa.types.is_timestamp(col.type)
        # timestamps as integers: a timezone-aware scalar's as_py() would import pandas into the agent
        mm = pc.min_max(col.cast(pa.int64()) if is_ts else col)
        lo, hi = mm["min"].as_py(), mm["max"].as_py()
        if is_ts:  # milliseconds, as delta-rs and Spark write them
            lo, hi = _ts(lo), _ts(hi)
        elif isinstance(lo, str) and max(len(lo), len(hi)) > _MAX_STAT_CHARS:
            continue
        mins[name], maxs[name] = lo, hi
    return json.dumps({"numRecords": part.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls},
                      separators=(",", ":"))


def _ts(micros: int) -> str:
    t = _EPOCH + dt.timedelta(microseconds=micros)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def _add(e: FileEntry) -> Any:
    from deltalake.transaction import AddAction

    return AddAction(e.path, e.size, {"tenant": e.tenant, "date": e.date}, e.mtime_ms, True, e.stats)


def _remove(path: str, tenant: str, date: str, size: int | None) -> Any:
    from deltalake.transaction import RemoveAction

    return RemoveAction(path, True, int(time.time() * 1000), size, {"tenant": tenant, "date": date})


@dataclass(frozen=True, slots=True)
class Removal:
    path: str  # relative to the table root
    tenant: str
    date: str
    size: int | None = None


def commit(lake: Lake, table: str, adds: Sequence[FileEntry], removes: Sequence[Removal] = (), *,
           operation: str = "append", attempts: int = 8, metadata: dict[str, Any] | None = None) -> None:
    """Add and remove files in one transaction, creating the table on its first commit.

    Adding a path that is already in the table is harmless (Delta keys files by path), which
    makes a commit retried after a lost reply exactly-once.
    """
    from deltalake import CommitProperties, Schema
    from deltalake.exceptions import CommitFailedError, DeltaError
    from deltalake.transaction import create_table_with_add_actions

    if not adds and not removes:
        return
    props = CommitProperties(custom_metadata={"invlog.operation": operation, **(metadata or {})},
                             max_commit_retries=15)
    delay = 0.05
    last: Exception | None = None
    for attempt in range(attempts):
        try:
            dtab = _latest(lake, table)
            if dtab is None:
                if removes:
                    raise CommitError(f"{table}: cannot remove files from a table that does not exist")
                create_table_with_add_actions(
                    table_uri(lake, table), Schema.from_arrow(schema(table)), [_add(e) for e in adds],
                    mode="error", partition_by=PARTITION_BY, configuration=configuration(table),
                    storage_options=storage_options(lake), commit_properties=props)
            else:
                _evolve(dtab, table)
                actions = [_add(e) for e in adds] + [_remove(r.path, r.tenant, r.date, r.size) for r in removes]
                dtab.create_write_transaction(actions, "append", schema(table), PARTITION_BY,
                                              commit_properties=props)
            return
        except (CommitFailedError, DeltaError, OSError) as exc:  # a lost race, a storage error
            last = exc
            if "already exists" in str(exc).lower() and attempt == 0:
                continue  # another process created the table first: append to it
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 2.0)
    raise CommitError(f"{table}: commit failed after {attempts} attempts: {type(last).__name__}: {last}")


def _evolve(dtab: Any, table: str) -> None:
    """Add the columns a newer schema version appended (the schema only grows) to an existing table's
    metadata, so that readers of the Delta log see them; files written before read them as null."""
    from deltalake import Schema

    have = {f.name for f in dtab.schema().fields}
    missing = [f for f in Schema.from_arrow(schema(table)).fields if f.name not in have]
    if missing:
        dtab.alter.add_columns(missing)


def committed(lake: Lake, table: str, tenant: str | None = None) -> dict[tuple[str, str], dict[str, int]]:
    """(tenant, date) -> {name: size} of the table's committed live files (optionally one tenant's)."""
    dtab = open_table(lake, table)
    out: dict[tuple[str, str], dict[str, int]] = {}
    if dtab is None:
        return out
    live = live_entries(dtab)
    for path, size, t, d in zip(live.column("path").to_pylist(), live.column("size_bytes").to_pylist(),
                                live.column("tenant").to_pylist(), live.column("date").to_pylist(), strict=True):
        if tenant is None or t == tenant:
            out.setdefault((t, d), {})[path.rsplit("/", 1)[-1]] = size
    return out


def live_entries(dtab: Any) -> pa.Table:
    """The table's live files: path, size_bytes, num_records, tenant, date (strings)."""
    # through the stream protocol, not pa.table(): that asks pandas first whether it holds a pandas frame
    adds = pa.RecordBatchReader.from_stream(dtab.get_add_actions(flatten=True)).read_all()
    rows = adds.column("num_records") if "num_records" in adds.column_names else pa.nulls(adds.num_rows, pa.int64())
    cols = {"path": adds.column("path"), "size_bytes": adds.column("size_bytes"), "num_records": rows,
            "tenant": adds.column("partition.tenant"), "date": adds.column("partition.date").cast(pa.string())}
    return pa.table(cols)
