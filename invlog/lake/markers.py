"""Compaction markers: the durable record of which part files a merged file replaced.

Compaction writes ``_compacted-<id>.json`` (``{"merged", "replaces", "created_at"}``)
in the partition's side folder (``_meta/parts/<table>/tenant=/date=``) before it
commits the merge. Visibility comes from the Delta log; the markers outlive the
replaced files so that a late spool replay, or a committer holding a stale pending
record, knows that a part was already published and merged and does not add it
again. Lakes written before markers moved out kept them in the data folder; both
places are read.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

from invlog.lake.layout import COMPACTED_PREFIX, side_path
from invlog.lake.storage import Lake


def is_marker(name: str) -> bool:
    return name.startswith(COMPACTED_PREFIX) and name.endswith(".json")


def write(lake: Lake, rel: str, merge_id: str, merged: str, replaces: list[str]) -> str:
    """Record, before the merge commits, that ``merged`` replaces ``replaces`` in partition ``rel``."""
    name = f"{COMPACTED_PREFIX}{merge_id}.json"
    marker = {"merged": merged, "replaces": replaces, "created_at": dt.datetime.now(dt.UTC).isoformat()}
    lake.put(f"{side_path(rel)}/{name}", json.dumps(marker).encode())
    return name


def read(lake: Lake, rel: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(folder, name, marker) of the partition ``rel``'s markers: side folder, then the data folder."""
    out = []
    for folder in (side_path(rel), rel):
        for n in lake.names(folder):
            if is_marker(n):
                try:
                    out.append((folder, n, json.loads(lake.read(f"{folder}/{n}"))))
                except (OSError, ValueError):
                    continue
    return out


def replaced(lake: Lake, rel: str) -> set[str]:
    """Names of the partition's part files that some compaction merged into another file."""
    return {r for _, _, m in read(lake, rel) for r in m.get("replaces", [])}


def published_or_merged(lake: Lake) -> Callable[[str], bool]:
    """An ``already_published`` check for replays: the part exists, or compaction merged it."""
    merged: dict[str, set[str]] = {}

    def check(rel: str) -> bool:
        if lake.exists(rel):
            return True
        folder, name = rel.rsplit("/", 1)
        if folder not in merged:
            merged[folder] = replaced(lake, folder)
        return name in merged[folder]

    return check
