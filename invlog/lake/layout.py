"""Where things live in the lake: tenant-id rule, partition paths, part-file ids.

A tenant id becomes a folder name (``tenant=<id>``), so it is validated strictly
before any path is built: lowercase ASCII letters and digits, ``_`` and ``-``,
1 to 63 characters, starting with a letter or digit. That excludes traversal
(``../x``), separators (``a/b``), Hive syntax (``a=b``), escapes (``%2F``), NUL,
look-alike Unicode and empty ids by construction. Part ids are time-ordered
(microsecond timestamp first) with random bits, unique across processes.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import time

TENANT_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_valid_tenants: set[str] = set()


def validate_tenant(tenant: object) -> str:
    """Return ``tenant`` if it is a valid tenant id, else raise ``ValueError``."""
    if tenant in _valid_tenants:  # the hot path: a set lookup
        return tenant
    if not isinstance(tenant, str) or TENANT_RE.fullmatch(tenant) is None:
        shown = repr(tenant)[:80]
        raise ValueError(
            f"tenant: invalid tenant id {shown}; expected 1-63 characters of "
            "a-z, 0-9, '_' or '-', starting with a letter or digit"
        )
    if len(_valid_tenants) < 100_000:
        _valid_tenants.add(tenant)
    return tenant


def _day(date: dt.date | str) -> str:
    return date if isinstance(date, str) else date.isoformat()


def tenant_path(area: str, tenant: str) -> str:
    """A tenant's folder in a table or another area of the lake, e.g. ``attachments/tenant=acme``."""
    validate_tenant(tenant)
    return f"{area}/tenant={tenant}"


def partition_path(table: str, tenant: str, date: dt.date | str) -> str:
    """Relative folder of one partition, e.g. ``rounds/tenant=acme/date=2026-11-27``."""
    validate_tenant(tenant)
    return f"{table}/tenant={tenant}/date={_day(date)}"


def placeholder_partition(table: str) -> str:
    """A partition folder no tenant can own (``-`` is not a valid id): for stand-in files outside the lake."""
    return f"{table}/tenant=-/date=1970-01-01"


def log_path(tenant: str, date: dt.date | str, name: str) -> str:
    """A data file's path as the Delta log names it (relative to its table): ``tenant=/date=/name``."""
    validate_tenant(tenant)
    return f"tenant={tenant}/date={_day(date)}/{name}"


def file_path(table: str, tenant: str, date: dt.date | str, name: str) -> str:
    """A data file's path from the lake's root: ``<table>/tenant=/date=/name``."""
    return f"{table}/{log_path(tenant, date, name)}"


def meta_path(tenant: str, name: str) -> str:
    """A tenant's metadata object under ``_meta/tenant=<t>/`` (generation, checksums, sweeps)."""
    return f"{tenant_path('_meta', tenant)}/{name}"


def attachment_path(tenant: str, sha256: str) -> str:
    """Where a mirrored attachment is stored: content-addressed, once per tenant and content."""
    return f"{tenant_path('attachments', tenant)}/{sha256[:2]}/{sha256}"


def new_part_id() -> str:
    """A unique, time-ordered id: 14 hex digits of UTC microseconds + 16 random hex digits."""
    return f"{time.time_ns() // 1000:014x}{os.urandom(8).hex()}"


# Compaction markers, named for the merge they record.
COMPACTED_PREFIX = "_compacted-"
# Derived files of a data partition (compaction markers, rollups) live outside the data folders,
# in a mirror of the partition path, so a plain read of <lake>/invocations/** sees data files only.
SIDE_ROOT = "_meta/parts"


def side_path(rel: str) -> str:
    """The folder holding the derived files of data partition ``rel`` (``<table>/tenant=/date=``)."""
    return f"{SIDE_ROOT}/{rel}"


def generation_path(tenant: str) -> str:
    """A small object whose change tells readers to re-list the tenant's partitions."""
    return meta_path(tenant, "generation")


def bump_generation(lake: object, tenant: str) -> None:
    lake.put(generation_path(tenant), new_part_id().encode())  # type: ignore[attr-defined]
