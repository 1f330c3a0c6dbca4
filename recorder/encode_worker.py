"""Encoding batches in a helper process, so redaction and JSON leave the agent's GIL.

Turning queued rows into Arrow (redaction, JSON, column building) is pure Python
work that holds the GIL, and on the flusher thread it competes with the agent's
own threads. ``Recorder(encoder_process=True)`` starts one helper: the flusher
pickles a batch (one C call; message dicts shared between rounds are pickled
once), the helper returns the spool frame, and the flusher only writes it. The
helper holds no state that matters: it never touches the spool or the lake, so a
helper that dies, hangs or cannot start costs nothing but speed; the flusher then
encodes in-thread (and logs why). It is started with ``python -m`` (not
``multiprocessing``), so the agent's main module is never re-imported, and it exits
when its stdin closes, that is, when the agent process ends.

Wire: each message is a 4-byte little-endian length and a pickle. Request:
``(invocation rows, round rows)``; reply: ``(frame, truncated fields)`` or
``("error", text)``. The helper writes one byte when it is ready.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

_LEN = struct.Struct("<I")
READY = b"R"


class WorkerError(Exception):
    """The helper process failed; the caller encodes in-thread."""


class NotPicklable(WorkerError):
    """This batch cannot be sent (the helper is fine); the caller encodes it in-thread."""


def _read_exact(fd: int, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise WorkerError("the encoder process exited")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class EncoderProcess:
    """The parent's handle on one helper process; replies are read by a thread of their own.

    Batches are pipelined: the flusher sends batch N+1 while the helper encodes batch
    N, and a reader thread drains replies as they come, so neither side waits on a
    full pipe. Replies arrive in request order.
    """

    def __init__(self, max_field_bytes: int, on_reply: Callable[[], None]):
        env = dict(os.environ)
        # The helper must import this package the way the parent did (e.g. from a checkout).
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "recorder._encoder_main", str(max_field_bytes)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in, self._out = self.proc.stdin.fileno(), self.proc.stdout.fileno()
        self.ready = False
        self.dead: str | None = None  # why the helper is unusable, once it is
        self.replies: deque[tuple[Any, Any]] = deque()
        self._on_reply = on_reply
        self._reader = threading.Thread(target=self._read_loop, name="invocation-logs-encoder-reader",
                                        daemon=True)
        self._reader.start()

    def _read_loop(self) -> None:
        try:
            if _read_exact(self._out, 1) != READY:
                raise WorkerError("the encoder process failed to start")
            self.ready = True
            while True:
                (n,) = _LEN.unpack(_read_exact(self._out, _LEN.size))
                self.replies.append(pickle.loads(_read_exact(self._out, n)))
                self._on_reply()
        except Exception as exc:  # EOF, a broken pipe or a garbled reply: the helper is done
            self.dead = str(exc) or type(exc).__name__
            self._on_reply()

    def send(self, inv_rows: list[Any], round_rows: list[Any]) -> None:
        """Queue a batch; its reply (frame, truncated fields) or ("error", text) comes in order."""
        try:
            payload = pickle.dumps((inv_rows, round_rows), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # an unpicklable value somewhere: this batch is encoded in-thread
            raise NotPicklable(f"batch not picklable: {exc}") from None
        try:
            _write_all(self._in, _LEN.pack(len(payload)) + payload)
        except OSError as exc:
            self.dead = f"the encoder process pipe failed: {exc}"
            raise WorkerError(self.dead) from None

    def close(self, *, kill: bool = False) -> None:
        try:
            self.proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        if kill:
            self.proc.kill()
        try:
            self.proc.wait(2.0)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(2.0)
        try:
            self.proc.stdout.close()  # type: ignore[union-attr]
        except OSError:
            pass

    def forget(self) -> None:
        """In a forked child: drop our copies of the pipes, leave the parent's helper alone."""
        for fd in (self._in, self._out):
            try:
                os.close(fd)
            except OSError:
                pass


def main() -> None:
    from recorder.encode import Encoder
    from recorder.spool import encode_frame

    encoder = Encoder(max_field_bytes=int(sys.argv[1]))
    fin, fout = sys.stdin.fileno(), os.dup(sys.stdout.fileno())
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt the replies
    os.write(fout, READY)
    while True:
        try:
            head = _read_exact(fin, _LEN.size)
        except WorkerError:
            return  # stdin closed: the recorder is gone
        (n,) = _LEN.unpack(head)
        try:
            inv_rows, round_rows = pickle.loads(_read_exact(fin, n))
            before = encoder.truncated_fields
            frame = encode_frame(encoder.table("invocations", inv_rows), encoder.table("rounds", round_rows))
            reply: tuple[Any, Any] = (frame, encoder.truncated_fields - before)
        except WorkerError:
            return
        except Exception as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        out = pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
        _write_all(fout, _LEN.pack(len(out)) + out)
