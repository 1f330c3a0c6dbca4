"""Retention and tenant deletion, as Delta transactions; and the sweep of unreferenced attachments.

``retention`` removes a tenant's partitions older than the kept days in one
transaction per table (time travel still reaches them until ``vacuum`` deletes the
files after the retention period), then sweeps attachments that no live
invocation references any more. ``delete_tenant`` removes every file of the
tenant from both tables in one transaction and deletes, at once and whatever the
retention, its data files, rollups, markers, attachments, memory and metadata;
what remains is the log's history, whose entries name the tenant in paths and
partition values and age out with the log retention (``delta.LOG_RETENTION``).

The attachment sweep is two-phase because a recorder skips uploading a blob that
already exists: a blob first found unreferenced is marked, and deleted only if it
is still unreferenced ``grace_seconds`` (default a day) later, by which time any
run that relied on it has been published.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from invlog.lake import Lake, delta, pending, validate_tenant
from invlog.lake.commit import commit_pending
from invlog.lake.delta import Removal
from invlog.lake.layout import bump_generation, log_path, meta_path, partition_path, side_path, tenant_path

SWEEP_GRACE = 86_400.0


@dataclass
class DeletionReport:
    removed: list[str] = field(default_factory=list)  # what went (folders, or partitions)
    remains: list[str] = field(default_factory=list)  # what is left, and until when


def _remove_partitions(lake: Lake, tenant: str, keep: Callable[[str], bool]) -> list[str]:
    gone = []
    for table in delta.NAMES:
        removes = []
        for (t, d), files in sorted(delta.committed(lake, table, tenant).items()):
            if keep(d):
                continue
            gone.append(partition_path(table, t, d))
            removes.extend(Removal(log_path(t, d, n), t, d, size) for n, size in sorted(files.items()))
        delta.commit(lake, table, [], removes, operation="retention")
    return gone


def retention(lake: Lake, tenant: str, keep_days: int, *, dry_run: bool = False, today: dt.date | None = None,
              sweep_grace_seconds: float = SWEEP_GRACE) -> list[str]:
    """Keep the last ``keep_days`` UTC days (today included), remove older partitions; returns what goes."""
    validate_tenant(tenant)
    if type(keep_days) is not int or keep_days < 1:
        raise ValueError(f"keep_days: expected a positive integer, got {keep_days!r}")
    cutoff = ((today or dt.datetime.now(dt.UTC).date()) - dt.timedelta(days=keep_days - 1)).isoformat()
    if dry_run:
        return sorted(partition_path(table, t, d) for table in delta.NAMES
                      for (t, d) in delta.committed(lake, table, tenant) if d < cutoff)
    commit_pending(lake, older_than=0)  # what is pending for those days goes too
    doomed = _remove_partitions(lake, tenant, lambda d: d >= cutoff)
    for rel in doomed:  # rollups and markers of removed partitions (replays into a removed day are moot)
        lake.remove_tree(side_path(rel))
    if doomed:
        bump_generation(lake, tenant)
    sweep_attachments(lake, tenant, grace_seconds=sweep_grace_seconds)
    return sorted(doomed)


def _state_path(tenant: str) -> str:
    return meta_path(tenant, "attachment-sweep.json")


def sweep_attachments(lake: Lake, tenant: str, *, grace_seconds: float = SWEEP_GRACE,
                      now: dt.datetime | None = None) -> list[str]:
    """Delete the tenant's attachment blobs that no live invocation has referenced for ``grace_seconds``;
    returns the deleted paths. Blobs found unreferenced for the first time are marked."""
    from warehouse.core import Warehouse

    validate_tenant(tenant)
    now = now or dt.datetime.now(dt.UTC)
    blobs = {p.rsplit("/", 1)[-1]: p for p in lake.find(tenant_path("attachments", tenant))}
    if not blobs:
        return []
    referenced = Warehouse(lake, refresh_interval=0).attachment_refs(tenant)
    try:
        marked = json.loads(lake.read(_state_path(tenant)))
    except (FileNotFoundError, OSError, ValueError):
        marked = {}
    deleted, still = [], {}
    for sha, path in sorted(blobs.items()):
        if sha in referenced:
            continue
        since = marked.get(sha)
        if since is not None and (now - dt.datetime.fromisoformat(since)).total_seconds() >= grace_seconds:
            lake.remove(path)
            deleted.append(path)
        else:
            still[sha] = since or now.isoformat()
    lake.put(_state_path(tenant), json.dumps(still, sort_keys=True).encode())
    return deleted


def delete_tenant(lake: Lake, tenant: str, *, dry_run: bool = False) -> DeletionReport:
    """Delete everything stored for a tenant, at once; says what went and what remains until when."""
    validate_tenant(tenant)
    areas = (*delta.NAMES, "attachments", "_memory")
    folders = [*(tenant_path(a, tenant) for a in areas), *(side_path(tenant_path(t, tenant)) for t in delta.NAMES),
               tenant_path("_meta", tenant)]
    report = DeletionReport(removed=[rel for rel in folders if lake.exists(rel)])
    in_log = any(delta.committed(lake, table, tenant) for table in delta.NAMES)
    if in_log:
        until = (dt.datetime.now(dt.UTC) + delta.LOG_RETENTION).date().isoformat()
        report.remains.append(f"the Delta logs of invocations and rounds name the tenant in file paths and "
                              f"partition values (no row content) until their entries age out, by {until} "
                              f"(log retention {delta.LOG_RETENTION.days} days, at the next checkpoint)")
    if dry_run:
        return report
    commit_pending(lake, older_than=0)
    _remove_partitions(lake, tenant, lambda d: False)
    for rel in report.removed:  # the data files are deleted now, whatever the retention
        lake.remove_tree(rel)
    for rid in pending.ids(lake):  # records a recorder published meanwhile, of files now gone
        entries = pending.read(lake, rid) or []
        rest = [e for e in entries if e.tenant != tenant]
        if not rest:
            pending.delete(lake, rid)
        elif len(rest) < len(entries):
            pending.write(lake, rid, rest)
    return report
