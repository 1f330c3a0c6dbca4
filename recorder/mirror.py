"""Attachment mirroring: a run's files copied into the tenant's storage, described in its row.

The hot path puts a run's ``LLMFile`` list in the attachments slot of its row and does
no I/O. On the flusher thread, before the batch is encoded, ``mirror_rows`` replaces
each list's contents in place with one description per file (filename, media type,
size, source, SHA-256, lake URI, redacted URL, error), so the row tuple itself is never
rebuilt. Files from a path or from bytes are stored once per content under
``attachments/tenant=<t>/<sha256[:2]>/<sha256>``; URL files are recorded, not fetched.
Mirroring is fail-open: a missing or oversized file or a storage error is logged,
counted (``attachment_errors``) and kept in the description's ``error``; the run is
recorded all the same.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from typing import Any

from invlog.lake import INVOCATIONS, Lake
from invlog.lake.layout import attachment_path
from recorder.attachments import LLMFile
from recorder.ledger import Ledger
from recorder.redact import redact_text

ATTACHMENTS = INVOCATIONS.get_field_index("attachments")
TENANT = INVOCATIONS.get_field_index("tenant")


def mirror_rows(lake: Lake, rows: Iterable[tuple[Any, ...]], max_bytes: int, ledger: Ledger) -> None:
    """Mirror the files of every invocation row that has some, describing them in place."""
    for row in rows:
        files = row[ATTACHMENTS]
        if not files:
            continue
        metas = [mirror(lake, row[TENANT], f, max_bytes) for f in files]
        for m in metas:
            if m["error"]:
                ledger.counters["attachment_errors"] += 1
                ledger.log("attach", "invocation logs: mirroring %s failed: %s", m["filename"], m["error"])
            elif m["uri"]:
                ledger.counters["attachments_mirrored"] += 1
        files[:] = metas


def mirror(lake: Lake, tenant: str, f: LLMFile, max_bytes: int) -> dict[str, Any]:
    """Mirror one file and describe it; never raises for I/O or storage errors."""
    meta: dict[str, Any] = {
        "filename": redact_text(f.filename), "media_type": f.media_type, "size": None, "source": f.source,
        "sha256": None, "uri": None, "url": redact_text(f.url) if f.url else None, "error": None,
    }
    if f.source == "url":
        return meta
    try:
        if f.data is not None:
            data = f.data
        else:
            size = os.path.getsize(f.path)  # type: ignore[arg-type]
            if size > max_bytes:
                meta["size"] = size
                raise OSError(f"file is {size} bytes, over the mirror limit of {max_bytes}")
            with open(f.path, "rb") as fh:  # type: ignore[arg-type]
                data = fh.read()
        meta["size"] = len(data)
        if len(data) > max_bytes:
            raise OSError(f"file is {len(data)} bytes, over the mirror limit of {max_bytes}")
        sha = hashlib.sha256(data).hexdigest()
        meta["sha256"] = sha
        rel = attachment_path(tenant, sha)
        if not lake.exists(rel):
            lake.put(rel, data)
        meta["uri"] = lake.uri(rel)
    except Exception as exc:  # fail-open: recorded and logged by mirror_rows
        meta["error"] = redact_text(f"{type(exc).__name__}: {exc}")[:500]
    return meta
