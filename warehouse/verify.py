"""The scrub: read every live data file in full and check it, so damage is found, not summed.

DuckDB does not check Parquet page checksums, and page checksums do not cover the
footer or page headers: a flipped byte there can change a sum with no error. So
``verify`` compares each live file (from the Delta log and the pending records)
with the SHA-256 recorded when it was written, which catches any change to any
byte, then reads it with pyarrow's page checksum verification and checks its
schema against the table's. Files without a recorded digest (none are written so
today) are reported as unchecked. With ``quarantine`` a bad file is moved under
``_quarantine/`` and removed from the table in one transaction, so queries stop
failing and the dashboard's warning names what was set aside.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from invlog.lake import Lake, checksums, delta, pending
from invlog.lake.commit import commit_pending
from invlog.lake.delta import FileEntry, Removal
from invlog.lake.files import FILE_SCHEMAS
from invlog.lake.layout import bump_generation


@dataclass
class VerifyResult:
    checked: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    quarantined: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # no whole-file checksum recorded


def check_file(data: bytes, table: str) -> str | None:
    """Why the part file is bad, or None when it reads back whole and well-typed."""
    if len(data) < 12 or data[:4] != b"PAR1" or data[-4:] != b"PAR1":
        return "not a Parquet file (empty, truncated or garbage)"
    try:
        t = pq.ParquetFile(io.BytesIO(data), page_checksum_verification=True).read()
    except Exception as exc:  # any decoding failure is damage
        return f"unreadable: {type(exc).__name__}: {str(exc)[:200]}"
    expected = FILE_SCHEMAS[table]
    for f in t.schema:
        if f.name in expected.names and expected.field(f.name).type != f.type:
            return f"column {f.name!r} is {f.type}, expected {expected.field(f.name).type}"
    missing = {"invocation_id", "started_at", "cost_usd"} - set(t.schema.names)
    if missing:
        return f"missing core columns {sorted(missing)}"
    return None


def check_live_file(data: bytes, table: str, sha256: str | None, size: int | None) -> str | None:
    """Why a live file is bad: its bytes differ from the SHA-256 recorded when it was written (any
    change to any byte), or it does not read back whole and well-typed; None when it is good."""
    if sha256 is not None and checksums.sha256(data) != sha256:
        return f"SHA-256 mismatch: the file changed after it was written ({len(data)} bytes, recorded {size})"
    return check_file(data, table)


def _live(lake: Lake, tenant: str | None) -> list[tuple[str, FileEntry | None, str, str, int | None]]:
    """(table, pending entry or None, tenant, path from the table root, size) of every live file."""
    out = []
    for table in delta.NAMES:
        dtab = delta.open_table(lake, table)
        if dtab is not None:
            live = delta.live_entries(dtab)
            for path, size, t in zip(live.column("path").to_pylist(), live.column("size_bytes").to_pylist(),
                                     live.column("tenant").to_pylist(), strict=True):
                if tenant in (None, t):
                    out.append((table, None, t, path, size))
    seen = {(table, path) for table, _, _, path, _ in out}
    for rid in pending.ids(lake):
        for e in pending.read(lake, rid) or []:
            if tenant in (None, e.tenant) and (e.table, e.path) not in seen:
                seen.add((e.table, e.path))
                out.append((e.table, e, e.tenant, e.path, e.size))
    return sorted(out, key=lambda x: (x[0], x[3]))


def verify(lake: Lake, *, tenant: str | None = None, quarantine: bool = False,
           progress: bool = False) -> VerifyResult:
    """Check every live file (committed or pending): its whole-file SHA-256 against the one recorded
    when it was written, its size, then a full read with page checksums and the schema."""
    res = VerifyResult()
    if quarantine:  # everything in the log first, so that a quarantined file leaves by a remove action
        commit_pending(lake, older_than=0)
    files: Iterable = _live(lake, tenant)
    if progress:
        from tqdm import tqdm

        files = tqdm(list(files), desc="verifying part files", unit="file")
    digests: dict[str, dict[str, str]] = {}
    doomed: dict[str, list[Removal]] = {}
    for table, entry, t, path, size in files:
        if t not in digests:
            digests[t] = checksums.load(lake, t)
        rel = f"{table}/{path}"
        res.checked += 1
        try:
            data = lake.read(rel)
        except FileNotFoundError:
            res.bad.append((lake.uri(rel), "missing: the log names it but the file is gone"))
            continue
        want = entry.sha256 if entry is not None else digests[t].get(rel)
        if want is None:
            res.unchecked.append(lake.uri(rel))
        reason = check_live_file(data, table, want, size)
        if reason is None:
            continue
        res.bad.append((lake.uri(rel), reason))
        if quarantine:
            lake.put(f"_quarantine/{rel}", data)
            lake.remove(rel)
            res.quarantined.append(lake.uri(f"_quarantine/{rel}"))
            date = path.split("/")[1][5:]
            doomed.setdefault(table, []).append(Removal(path, t, date, size))
    for table, removes in doomed.items():  # quarantined files leave the table in one transaction
        delta.commit(lake, table, [], removes, operation="quarantine")
    for t in sorted({r.tenant for removes in doomed.values() for r in removes}):
        bump_generation(lake, t)
    return res
