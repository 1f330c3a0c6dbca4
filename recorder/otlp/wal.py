"""The receiver's write-ahead log: an accepted batch is on disk (fsync) before it is acknowledged.

Each request's accepted spans are one frame (length, CRC-32, JSON) appended to the open
segment and fsynced before the handler answers 200, so an acknowledged span survives a
crash of the receiver. Concurrent requests share a single fsync when they arrive together
(group commit). Segments are sealed every ``rotate`` seconds; a sealed segment is
deleted once every trace it holds has been recorded and the recorder has flushed them
to the lake. At start, ``replay`` hands every frame left on disk back to the assembler
(a torn last frame is skipped: it was never acknowledged). A crash between recording a
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

import orjson

from recorder.otel.spans import Span

_HEAD = struct.Struct("<II")


def _row(s: Span) -> list[Any]:
    return [s.trace_id, s.span_id, s.parent_id, s.name, s.start_ns, s.end_ns, s.status, s.status_message,
            s.attributes, [list(e) for e in s.events], s.resource]


def _span(r: list[Any]) -> Span:
    return Span(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8],
                tuple((e[0], e[1], e[2]) for e in r[9]), r[10])


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

    def _segment(self) -> tuple[str, Any, set[tuple[str, str]], float]:
        if self._open is None or time.monotonic() - self._open[3] >= self.rotate:
            if self._open is not None:
                self._open[1].close()
                self._sealed.append((self._open[0], self._open[2]))
            self._seq += 1
            path = os.path.join(self.folder, f"{self._seq:012d}.wal")
            self._open = (path, open(path, "ab"), set(), time.monotonic())  # noqa: SIM115 (kept open)
        return self._open

    def append(self, tenant: str, spans: list[Span]) -> None:
        """Write and fsync one batch; returns once it is durable. Raises ``OSError`` (disk full, ...)."""
        payload = orjson.dumps({"t": tenant, "s": [_row(s) for s in spans]}, option=orjson.OPT_NON_STR_KEYS)
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
            with self._lock:
                target, fd = self._written, self._open[1].fileno() if self._open else None
            if fd is not None:
                os.fsync(fd)
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
                doc = orjson.loads(payload)
                batch = [_span(r) for r in doc["s"]]
                traces.update((doc["t"], s.trace_id) for s in batch)
                yield doc["t"], batch
            self._sealed.append((path, traces))

    def collect(self, recorded: Any, flush: Any) -> int:
        """Delete sealed segments whose traces are all recorded (``recorded(key)``) once ``flush()`` succeeds."""
        with self._lock:
            if self._open is not None and time.monotonic() - self._open[3] >= self.rotate:
                self._open[1].close()
                self._sealed.append((self._open[0], self._open[2]))
                self._open = None
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
                self._open[1].close()
                self._sealed.append((self._open[0], self._open[2]))
                self._open = None
