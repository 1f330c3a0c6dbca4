"""The committer: pending records -> one Delta transaction per table.

``commit_records`` registers the files of the given pending records in the log
(rounds first, so a committed invocation always has its rounds), after writing
their checksums to the tenants' manifests, and then deletes the records. Before
committing it drops what must not be added: records that vanished (another
committer took them), files that no longer exist (retention or tenant deletion
removed them) and files that a compaction marker says were merged (a stale
record). A table that does not exist yet is created, converting the plain parts
an older version left (``invlog.lake.convert``). On a commit failure the records
stay pending, and the files stay visible to readers: nothing is lost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from invlog.lake import checksums, delta, markers, pending
from invlog.lake.delta import CommitError, FileEntry
from invlog.lake.storage import Lake

STALE_SECONDS = 300.0  # a record this old belongs to a recorder that died (recorders commit every minute)


@dataclass
class CommitResult:
    records: int = 0
    files: int = 0
    skipped: int = 0  # files dropped: gone, merged, or already taken
    errors: list[str] = field(default_factory=list)


def _names_in(lake: Lake, folder: str) -> set[str]:
    return set(lake.names(folder))


def usable(lake: Lake, entries: Iterable[FileEntry]) -> tuple[list[FileEntry], int]:
    """The entries whose files exist and were not merged away; and how many were dropped."""
    by_part: dict[str, list[FileEntry]] = defaultdict(list)
    for e in entries:
        by_part[e.rel.rsplit("/", 1)[0]].append(e)
    keep, dropped = [], 0
    for folder, group in by_part.items():
        present = _names_in(lake, folder)
        merged = markers.replaced(lake, folder)
        for e in group:
            name = e.path.rsplit("/", 1)[-1]
            if name in present and name not in merged:
                keep.append(e)
            else:
                dropped += 1
    return keep, dropped


def commit_records(lake: Lake, record_ids: Sequence[str], *, attempts: int = 8) -> CommitResult:
    """Commit the files of ``record_ids``; raises ``CommitError`` (records kept) when the log refuses."""
    from invlog.lake import convert

    res = CommitResult()
    live = set(pending.ids(lake))
    entries: list[FileEntry] = []
    taken: list[str] = []
    for rid in record_ids:
        got = pending.read(lake, rid) if rid in live else None
        if got is None:  # committed by someone else meanwhile
            continue
        entries.extend(got)
        taken.append(rid)
    if not taken:
        return res
    keep, res.skipped = usable(lake, entries)
    checksums.record(lake, keep)
    for table in ("rounds", "invocations"):
        adds = [e for e in keep if e.table == table]
        if not adds:
            continue
        if not delta.exists(lake, table):
            convert.convert(lake, table)
        delta.commit(lake, table, adds, attempts=attempts)
    for rid in taken:
        pending.delete(lake, rid)
    res.records, res.files = len(taken), len(keep)
    return res


def commit_pending(lake: Lake, *, older_than: float = STALE_SECONDS, attempts: int = 8) -> CommitResult:
    """Commit every pending record at least ``older_than`` seconds old (0: all of them)."""
    todo = [rid for rid in pending.ids(lake) if pending.age_seconds(rid) >= older_than]
    res = CommitResult()
    for i in range(0, len(todo), 500):  # bounded transactions on a large backlog
        try:
            r = commit_records(lake, todo[i:i + 500], attempts=attempts)
        except CommitError as exc:
            res.errors.append(str(exc))
            continue
        res.records += r.records
        res.files += r.files
        res.skipped += r.skipped
    return res


def commit_records_in_subprocess(lake: Lake, record_ids: Sequence[str], timeout: float = 120.0) -> CommitResult:
    """``commit_records`` in a fresh interpreter, for a process forked after its parent used delta-rs
    (``delta.usable_here()`` is False). The lake's storage options travel on stdin, not argv."""
    body = json.dumps({"lake": lake.url, "storage_options": lake.storage_options, "ids": list(record_ids)})
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    done = subprocess.run([sys.executable, "-m", "invlog.lake.commit"], input=body.encode(), capture_output=True,
                          timeout=timeout, env=env)
    if done.returncode != 0:
        raise CommitError(f"commit in a subprocess failed ({done.returncode}): "
                          f"{done.stderr.decode(errors='replace')[-500:]}")
    out = json.loads(done.stdout.decode().strip().splitlines()[-1])
    return CommitResult(out["records"], out["files"], out["skipped"])


def _main() -> int:
    body = json.loads(sys.stdin.read())
    lake = Lake(body["lake"], body.get("storage_options") or None)
    res = commit_records(lake, body["ids"])
    print(json.dumps({"records": res.records, "files": res.files, "skipped": res.skipped}))
    return 0


if __name__ == "__main__":
    sys.exit(_main())
