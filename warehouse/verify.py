"""The scrub: read every part file in full and check it, so damage is found, not summed.

DuckDB does not check Parquet page checksums: a flipped byte can change a sum with
no error. ``verify`` reads each file with pyarrow's page checksum verification (the
recorder writes checksums), checks the schema against the table's, and reports
each bad file. With ``quarantine`` a bad file is moved under ``_quarantine/``
(hidden from readers) and the tenant's generation is bumped, so queries stop
failing and the dashboard's warning names what was set aside.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow.parquet as pq

from invlog.lake import INVOCATIONS, ROUNDS, Lake, file_schema
from invlog.lake.layout import bump_generation
from warehouse.compact import partitions

SCHEMAS = {"invocations": file_schema(INVOCATIONS), "rounds": file_schema(ROUNDS)}


@dataclass
class VerifyResult:
    checked: int = 0
    bad: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    quarantined: list[str] = field(default_factory=list)


def check_file(data: bytes, table: str) -> str | None:
    """Why the part file is bad, or None when it reads back whole and well-typed."""
    if len(data) < 12 or data[:4] != b"PAR1" or data[-4:] != b"PAR1":
        return "not a Parquet file (empty, truncated or garbage)"
    try:
        t = pq.ParquetFile(io.BytesIO(data), page_checksum_verification=True).read()
    except Exception as exc:  # any decoding failure is damage
        return f"unreadable: {type(exc).__name__}: {str(exc)[:200]}"
    expected = SCHEMAS[table]
    for f in t.schema:
        if f.name in expected.names and expected.field(f.name).type != f.type:
            return f"column {f.name!r} is {f.type}, expected {expected.field(f.name).type}"
    missing = {"invocation_id", "started_at", "cost_usd"} - set(t.schema.names)
    if missing:
        return f"missing core columns {sorted(missing)}"
    return None


def verify(lake: Lake, *, tenant: str | None = None, quarantine: bool = False,
           progress: bool = False) -> VerifyResult:
    res = VerifyResult()
    parts: Iterable = partitions(lake, tenant)
    if progress:
        from tqdm import tqdm

        parts = tqdm(list(parts), desc="verifying partitions", unit="partition")
    touched: set[str] = set()
    for table, t, date in parts:
        rel = f"{table}/tenant={t}/date={date.isoformat()}"
        for entry in lake.fs.ls(lake.path(rel), detail=True):
            name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
            if entry["type"] != "file" or not name.endswith(".parquet") or name.startswith((".", "_")):
                continue
            res.checked += 1
            reason = check_file(lake.read(f"{rel}/{name}"), table)
            if reason is None:
                continue
            res.bad.append((lake.uri(f"{rel}/{name}"), reason))
            if quarantine:
                lake.fs.makedirs(lake.path(f"_quarantine/{rel}"), exist_ok=True)
                lake.fs.mv(lake.path(f"{rel}/{name}"), lake.path(f"_quarantine/{rel}/{name}"))
                res.quarantined.append(lake.uri(f"_quarantine/{rel}/{name}"))
                touched.add(t)
    for t in sorted(touched):
        bump_generation(lake, t)
    return res
