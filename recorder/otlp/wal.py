"""The receiver's write-ahead log: an accepted batch is on disk (fsync) before it is acknowledged.

Each accepted request is one frame (length, CRC-32, tenant, content type and the request
body as received, inflated) appended to the open segment and fsynced before the handler
answers 200 (the body is not re-encoded: replay decodes it again, and refuses again what
the checks refused), so an acknowledged span survives a
crash of the receiver. Concurrent requests share a single fsync when they arrive together
(group commit). Segments are sealed every ``rotate`` seconds; a sealed segment is
deleted once every trace it holds has been recorded and the recorder holds them durably
(its own spool, fsynced: ``Recorder.wait_durable``). At start, ``replay`` hands every
frame left on disk back to the assembler (a torn last frame is skipped: it was never
acknowledged). A crash between recording a
trace and deleting its segment records that trace again on replay (at least once).
"""

from __future__ import annotations

import os
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

from recorder.otel.spans import Span
from recorder.otlp import decode

_HEAD = struct.Struct("<II")


_STR = struct.Struct("<H")


def _frame(tenant: str, ctype: str, body: bytes) -> bytes:
    t, c = tenant.encode(), ctype.encode()
    return _STR.pack(len(t)) + t + _STR.pack(len(c)) + c + body


def _unframe(payload: bytes) -> tuple[str, str, bytes]:
    (n,) = _STR.unpack_from(payload, 0)
    tenant = payload[2:2 + n].decode()
    pos = 2 + n
    (m,) = _STR.unpack_from(payload, pos)
    ctype = payload[pos + 2:pos + 2 + m].decode()
    return tenant, ctype, payload[pos + 2 + m:]


class WAL:
    def __init__(self, folder: str, *, rotate: float = 5.0, fsync: bool = True):
        os.makedirs(folder, exist_ok=True)
        self.folder, self.rotate, self.fsync = folder, rotate, fsync
        self._lock = threading.Lock()
        self._sync = threading.Lock()
        self._seq = max([int(n[:-4]) for n in os.listdir(folder) if n.endswith(".wal") and n[:-4].isdigit()],
                        default=0)
        self._sealed: list[tuple[str, set[tuple[str, str]]]] = []
        self._open: tuple[str, Any, set[tuple[str, str]], float] | None = None
        self._written = self._synced = 0

    def _seal_open(self) -> None:
        """Close the open segment (lock held), fsynced first: a frame whose writer has not synced yet, and
        whose group commit would now sync the next segment, is durable all the same."""
        assert self._open is not None
        f = self._open[1]
        f.flush()
        if self.fsync:
            os.fsync(f.fileno())
        f.close()
        self._sealed.append((self._open[0], self._open[2]))
        self._open = None

    def _segment(self) -> tuple[str, Any, set[tuple[str, str]], float]:
        if self._open is None or time.monotonic() - self._open[3] >= self.rotate:
            if self._open is not None:
                self._seal_open()
            self._seq += 1
            path = os.path.join(self.folder, f"{self._seq:012d}.wal")
            self._open = (path, open(path, "ab"), set(), time.monotonic())  # noqa: SIM115 (kept open)
        return self._open

    def append(self, tenant: str, ctype: str, body: bytes, spans: list[Span]) -> None:
        """Write and fsync one request's body; returns once it is durable. Raises ``OSError`` (disk full, ...)."""
        payload = _frame(tenant, ctype, body)
        with self._lock:
            _, f, traces, _ = self._segment()
            f.write(_HEAD.pack(len(payload), zlib.crc32(payload)) + payload)
            f.flush()
            traces.update((tenant, s.trace_id) for s in spans)
            self._written += 1
            mine = self._written
        if not self.fsync:
            return
        with self._sync:  # group commit: one fsync covers every frame written before it
            if self._synced >= mine:
                return
            with self._lock:  # held through the fsync: the segment cannot be sealed and closed under it
                target = self._written
                if self._open is not None:  # frames in sealed segments were fsynced when they were sealed
                    os.fsync(self._open[1].fileno())
            self._synced = target

    def replay(self) -> Iterator[tuple[str, list[Span]]]:
        """The frames on disk, oldest first (call before the first ``append``); their segments become sealed."""
        for name in sorted(n for n in os.listdir(self.folder) if n.endswith(".wal")):
            path = os.path.join(self.folder, name)
            traces: set[tuple[str, str]] = set()
            with open(path, "rb") as f:
                data = f.read()
            pos = 0
            while pos + _HEAD.size <= len(data):
                n, crc = _HEAD.unpack_from(data, pos)
                payload = data[pos + _HEAD.size: pos + _HEAD.size + n]
                if len(payload) < n or zlib.crc32(payload) != crc:
                    break  # a torn tail: never acknowledged
                pos += _HEAD.size + n
                tenant, ctype, body = _unframe(payload)
                try:
                    batch = decode.spans(decode.parse(body, ctype))
                except decode.BodyError:  # cannot happen for a body that was accepted; skip, never stop
                    continue
                traces.update((tenant, s.trace_id) for s in batch)
                yield tenant, batch
            self._sealed.append((path, traces))

    def collect(self, recorded: Any, flush: Any) -> int:
        """Delete sealed segments whose traces are all recorded (``recorded(key)``) once ``flush()`` succeeds."""
        with self._lock:
            if self._open is not None and time.monotonic() - self._open[3] >= self.rotate:
                self._seal_open()
            ready = [(p, t) for p, t in self._sealed if all(recorded(k) for k in t)]
        if not ready or not flush():
            return 0
        for path, _ in ready:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass
        with self._lock:
            gone = {p for p, _ in ready}
            self._sealed = [(p, t) for p, t in self._sealed if p not in gone]
        return len(ready)

    def close(self) -> None:
        with self._lock:
            if self._open is not None:
                self._seal_open()
