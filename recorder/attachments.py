"""File attachments: ``LLMFile`` and their content-addressed mirror in the lake.

``LLMFile.from_path`` and ``from_bytes`` are mirrored under
``attachments/tenant=<t>/<sha256[:2]>/<sha256>`` (the same bytes twice are stored
once); ``from_url`` is recorded, not mirrored. Mirroring runs on the flusher
thread and is fail-open: a missing file, an oversized one or a storage error
leaves the run going, is logged, and is recorded in the attachment's ``error``.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from invlog.lake import Lake
from recorder.redact import redact_text


@dataclass(frozen=True, slots=True)
class LLMFile:
    """A file passed to a model: from a local path, from bytes, or by URL."""

    source: str  # "path" | "bytes" | "url"
    filename: str
    media_type: str
    path: str | None = None
    data: bytes | None = None
    url: str | None = None

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, media_type: str | None = None) -> LLMFile:
        p = os.fspath(path)
        name = os.path.basename(p)
        return cls("path", name, media_type or mimetypes.guess_type(name)[0] or "application/octet-stream", path=p)

    @classmethod
    def from_bytes(cls, data: bytes, *, filename: str, media_type: str | None = None) -> LLMFile:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise ValueError(f"data: expected bytes, got {type(data).__name__}")
        mt = media_type or mimetypes.guess_type(filename)[0] or "application/octet-stream"
        return cls("bytes", filename, mt, data=bytes(data))

    @classmethod
    def from_url(cls, url: str, *, filename: str | None = None, media_type: str | None = None) -> LLMFile:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https", "s3", "gs"):
            raise ValueError(f"url: expected an http(s), s3 or gs URL, got {url[:80]!r}")
        name = filename or os.path.basename(parts.path) or parts.netloc
        return cls("url", name, media_type or mimetypes.guess_type(name)[0] or "application/octet-stream", url=url)

    def read(self) -> bytes:
        """The content (for providers that send files inline); URLs are not fetched."""
        if self.data is not None:
            return self.data
        if self.path is not None:
            with open(self.path, "rb") as f:
                return f.read()
        raise ValueError("read: a URL file has no local content")


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
        rel = f"attachments/tenant={tenant}/{sha[:2]}/{sha}"
        if not lake.exists(rel):
            lake.put(rel, data)
        meta["uri"] = lake.uri(rel)
    except Exception as exc:  # fail-open: recorded and logged by the caller
        meta["error"] = redact_text(f"{type(exc).__name__}: {exc}")[:500]
    return meta
