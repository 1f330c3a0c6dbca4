"""Whole-file checksums of the data files, kept beside the log, per tenant.

Parquet's page CRCs leave the footer and page headers unprotected (a flipped byte
there can change an answer silently), so every data file's SHA-256 is computed
from the bytes as they are written. The Delta add action has no field for it in
the writer we use, so the digests live in per-tenant manifests,
``_meta/tenant=<t>/checksums/<id>.json`` (``{"<table>/<path>": "<hex>"}``), written
by the committer before the files are committed and by compaction for its merged
files; ``consolidate`` folds a tenant's manifests into one. Deleting the tenant's
``_meta`` folder deletes them. ``verify`` compares every live file with its digest.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from invlog.lake.layout import meta_path, new_part_id
from invlog.lake.storage import Lake

if TYPE_CHECKING:
    from invlog.lake.delta import FileEntry


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def folder(tenant: str) -> str:
    return meta_path(tenant, "checksums")


def record(lake: Lake, entries: Iterable[FileEntry], manifest_id: str | None = None) -> None:
    """Write the digests of ``entries`` (data files about to be committed) to their tenants' manifests."""
    by_tenant: dict[str, dict[str, str]] = defaultdict(dict)
    for e in entries:
        by_tenant[e.tenant][e.rel] = e.sha256
    manifest_id = manifest_id or new_part_id()
    for tenant, digests in sorted(by_tenant.items()):
        write(lake, tenant, manifest_id, digests)


def write(lake: Lake, tenant: str, manifest_id: str, digests: Mapping[str, str]) -> None:
    if digests:
        lake.put(f"{folder(tenant)}/{manifest_id}.json", json.dumps(dict(digests), sort_keys=True).encode())


def _names(lake: Lake, tenant: str) -> list[str]:
    return lake.names(folder(tenant))


def load(lake: Lake, tenant: str) -> dict[str, str]:
    """Every recorded digest of the tenant's files, ``{"<table>/<path>": hex}``."""
    out: dict[str, str] = {}
    for n in _names(lake, tenant):
        if not n.endswith(".json") or n.startswith("."):
            continue
        try:
            out.update(json.loads(lake.read(f"{folder(tenant)}/{n}")))
        except (OSError, ValueError):
            continue  # a damaged manifest: its files show as "no checksum recorded" in verify
    return out


def consolidate(lake: Lake, tenant: str, live: Iterable[str], manifest_id: str,
                min_age_seconds: float = 3600.0) -> int:
    """Fold the tenant's manifests older than ``min_age_seconds`` into one holding the digests of
    ``live`` files; returns manifests removed.

    Younger manifests are left alone: a committer writes its manifest just before its commit,
    so its files may not be in ``live`` yet. The new manifest is written before the old ones go.
    """
    now = time.time()
    names = [n for n in _names(lake, tenant) if n.endswith(".json") and not n.startswith(".")
             and _age(n[:-5], now) >= min_age_seconds]
    if len(names) < 2:
        return 0
    digests: dict[str, str] = {}
    for n in names:
        try:
            digests.update(json.loads(lake.read(f"{folder(tenant)}/{n}")))
        except (OSError, ValueError):
            names.remove(n)
    keep = {p: digests[p] for p in live if p in digests}
    write(lake, tenant, manifest_id, keep)
    for n in names:
        if n != f"{manifest_id}.json":
            lake.remove(f"{folder(tenant)}/{n}")
    return len(names) - 1


def _age(manifest_id: str, now: float) -> float:
    try:
        return now - int(manifest_id[:14], 16) / 1e6
    except ValueError:
        return float("inf")
