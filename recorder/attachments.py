"""File attachments: ``LLMFile``, a file passed to a model, from a path, bytes or a URL.

Creating one does no I/O beyond what the caller asked for (``from_bytes`` keeps the
bytes; ``from_path`` only the path). ``LLMFile.from_path`` and ``from_bytes`` are
mirrored into the lake by ``recorder.mirror`` on the flusher thread, fail-open;
``from_url`` is recorded, not mirrored.
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import dataclass
from urllib.parse import urlsplit


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
