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

import json
from collections.abc import Callable

from invlog.lake.layout import COMPACTED_PREFIX, side_path
from invlog.lake.storage import Lake


def _names(lake: Lake, folder: str) -> list[str]:
    try:
        entries = lake.fs.ls(lake.path(folder), detail=False)
    except FileNotFoundError:
        return []
    return sorted(e.rstrip("/").rsplit("/", 1)[-1] for e in entries)


def read(lake: Lake, rel: str) -> list[tuple[str, str, dict]]:
    """(folder, name, marker) of the partition ``rel``'s markers: side folder, then the data folder."""
    out = []
    for folder in (side_path(rel), rel):
        for n in _names(lake, folder):
            if n.startswith(COMPACTED_PREFIX) and n.endswith(".json"):
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
