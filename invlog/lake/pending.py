"""Pending records: data files published to the lake but not yet committed to its Delta log.

A recorder publishes its part files and then one small record,
``_meta/pending/<id>.json``, naming them (path, size, rows, SHA-256, statistics).
Readers add the files of every pending record to the log's file list, so a run is
visible as soon as it is published; a committer (the recorder itself, about once a
minute, or any maintenance pass for a dead recorder's records) registers them in
the log and then deletes the record. Record ids start with 14 hex digits of UTC
microseconds (``new_part_id``), so a record's age is known from its name alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

from invlog.lake.delta import FileEntry
from invlog.lake.storage import Lake

FOLDER = "_meta/pending"


def write(lake: Lake, record_id: str, entries: Sequence[FileEntry]) -> None:
    body = {"version": 1, "files": [e.to_json() for e in entries]}
    lake.put(f"{FOLDER}/{record_id}.json", json.dumps(body, separators=(",", ":")).encode())


def ids(lake: Lake) -> list[str]:
    """The ids of the records now pending, oldest first."""
    return [n[:-5] for n in lake.names(FOLDER) if n.endswith(".json") and not n.startswith(".")]


def read(lake: Lake, record_id: str) -> list[FileEntry] | None:
    """The record's files, or None when it is gone (committed meanwhile) or unreadable."""
    try:
        body = json.loads(lake.read(f"{FOLDER}/{record_id}.json"))
        return [FileEntry.from_json(d) for d in body["files"]]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def still_there(lake: Lake, record_id: str) -> bool:
    return lake.exists(f"{FOLDER}/{record_id}.json")


def delete(lake: Lake, record_id: str) -> None:
    lake.remove(f"{FOLDER}/{record_id}.json")


def paths(lake: Lake) -> set[str]:
    """Paths from the lake's root of the files that a pending record names."""
    out: set[str] = set()
    for rid in ids(lake):
        out.update(e.rel for e in read(lake, rid) or [])
    return out


def age_seconds(record_id: str, now: float | None = None) -> float:
    """Seconds since the record's id was made (its first 14 hex digits are UTC microseconds)."""
    try:
        made = int(record_id[:14], 16) / 1e6
    except ValueError:
        return float("inf")
    return (time.time() if now is None else now) - made
