"""Storage of the lake behind one small interface, local folder or S3.

``Lake`` wraps an fsspec filesystem and a root. Writes are atomic in the sense
readers care about: locally a file is written under a hidden temporary name
(``.name.tmp-*``, which Hive-style readers skip), fsynced and renamed; on S3 the
whole object is sent in one PUT from memory, so nothing partial is ever published
(s3fs would publish a partial object if an exception escaped ``fs.open(...,"wb")``).
The lake URL comes from the explicit argument, else ``INVLOG_LAKE``, else
``./data/lake``.
"""

from __future__ import annotations

import base64
import os
from typing import Any, NamedTuple

import fsspec

DEFAULT_LAKE = "./data/lake"
ENV_LAKE = "INVLOG_LAKE"


def resolve_lake_url(lake: str | os.PathLike[str] | None = None) -> str:
    """Explicit argument > ``INVLOG_LAKE`` > ``./data/lake``; local paths made absolute."""
    url = os.fspath(lake) if lake is not None else os.environ.get(ENV_LAKE) or DEFAULT_LAKE
    if not url:
        raise ValueError("lake: empty lake location")
    if "://" in url:
        if not url.startswith(("s3://", "file://", "memory://")):
            raise ValueError(f"lake: unsupported scheme in {url!r}; use a local path or s3://bucket/prefix")
        if url.startswith("file://"):
            url = url[len("file://") :]
        else:
            return url.rstrip("/")
    return os.path.abspath(os.path.expanduser(url))


class Entry(NamedTuple):
    name: str
    is_dir: bool
    size: int
    mtime: float | None  # seconds since the epoch, when the filesystem says


class Lake:
    """A lake root on a filesystem: ``put`` atomically, ``read``, ``open``, ``exists``, ``remove``,
    ``remove_tree``, listings (``names``, ``entries``, ``find``). Code outside ``invlog.lake`` goes
    through these and never through ``fs``, which is here for engines that register a filesystem
    (DuckDB) and for this package."""

    def __init__(self, lake: str | os.PathLike[str] | None = None, storage_options: dict[str, Any] | None = None):
        self.url = resolve_lake_url(lake)
        self.storage_options = dict(storage_options or {})
        self.is_local = "://" not in self.url
        if self.is_local:
            self.fs = fsspec.filesystem("file")
            self.root = self.url
        else:
            protocol, _, path = self.url.partition("://")
            if protocol == "s3":
                try:
                    import s3fs  # noqa: F401
                except ImportError as exc:  # pragma: no cover - s3fs is a pinned requirement
                    raise ImportError("lake: s3:// lakes need s3fs (pip install s3fs)") from exc
                opts = {"use_listings_cache": False, "skip_instance_cache": True}
                opts.update(storage_options or {})
            else:
                opts = dict(storage_options or {})
            self.fs = fsspec.filesystem(protocol, **opts)
            self.root = path

    def path(self, rel: str) -> str:
        return f"{self.root}/{rel}" if rel else self.root

    def unwritable_reason(self) -> str | None:
        """Why a local lake cannot be written ("No such file or directory", ...), or None (S3: not probed)."""
        if not self.is_local:
            return None
        try:
            os.makedirs(self.root, exist_ok=True)
        except OSError as exc:
            return exc.strerror or str(exc)
        return None if os.access(self.root, os.W_OK | os.X_OK) else "Permission denied"

    def uri(self, rel: str) -> str:
        """A URI for a user to read (``s3://...`` on S3, an absolute path locally)."""
        return self.path(rel) if self.is_local else f"{self.url}/{rel}"

    def put(self, rel: str, data: bytes, *, sha256: str | None = None) -> None:
        """Publish ``data`` at ``rel`` so that no reader ever sees a partial file.

        On S3, ``sha256`` (the hex digest of ``data``) is sent as the object's checksum, so the
        service rejects an upload damaged on the way and keeps the digest with the object."""
        full = self.path(rel)
        if self.is_local:
            folder, name = os.path.split(full)
            os.makedirs(folder, exist_ok=True)
            tmp = os.path.join(folder, f".{name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")
            try:
                with open(tmp, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, full)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
            _fsync_dir(folder)
        elif sha256 is not None:
            self.fs.pipe_file(full, data, ChecksumAlgorithm="SHA256",
                              ChecksumSHA256=base64.b64encode(bytes.fromhex(sha256)).decode())
        else:
            self.fs.pipe_file(full, data)

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self.path(rel)))

    def read(self, rel: str) -> bytes:
        return bytes(self.fs.cat_file(self.path(rel)))

    def open(self, rel: str) -> Any:
        """A binary reader of one file (seekable: Parquet footers are read without the whole file)."""
        return self.fs.open(self.path(rel), "rb")

    def remove(self, rel: str) -> None:
        """Delete one file; a file already gone is not an error (deletions are retried)."""
        try:
            self.fs.rm(self.path(rel))
        except FileNotFoundError:
            pass

    def remove_tree(self, rel: str) -> None:
        """Delete a folder and everything under it; a folder already gone is not an error."""
        if self.fs.exists(self.path(rel)):
            self.fs.rm(self.path(rel), recursive=True)

    def names(self, folder: str) -> list[str]:
        """The names directly under ``folder`` (files and folders), sorted; empty if it does not exist."""
        try:
            entries = self.fs.ls(self.path(folder), detail=False)
        except FileNotFoundError:
            return []
        return sorted(e.rstrip("/").rsplit("/", 1)[-1] for e in entries)

    def entries(self, folder: str) -> list[Entry]:
        """The files and folders directly under ``folder`` with their kind, size and modification time."""
        try:
            found = self.fs.ls(self.path(folder), detail=True)
        except FileNotFoundError:
            return []
        out = []
        for e in found:
            mtime = e.get("mtime") or e.get("created") or e.get("LastModified")
            if hasattr(mtime, "timestamp"):
                mtime = mtime.timestamp()
            out.append(Entry(e["name"].rstrip("/").rsplit("/", 1)[-1], e["type"] == "directory",
                             int(e.get("size") or 0), float(mtime) if mtime is not None else None))
        return sorted(out)

    def find(self, rel: str) -> list[str]:
        """Every file under ``rel``, as paths relative to the root (empty if none)."""
        base = self.path(rel)
        try:
            found = self.fs.find(base)
        except FileNotFoundError:
            return []
        prefix = self.root.rstrip("/") + "/"
        return sorted(p[len(prefix) :] if p.startswith(prefix) else p for p in found)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
