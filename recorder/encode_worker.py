"""Encoding batches in a helper process, so redaction and JSON leave the agent's GIL.

Turning queued rows into Arrow (redaction, JSON, column building) is pure Python
work that holds the GIL, and on the flusher thread it competes with the agent's
own threads. ``Recorder(encoder_process=True)`` starts one helper: the flusher
serialises queued rows in small chunks as they arrive (``marshal`` when every
value is a core type, which is twice as fast as ``pickle``; ``pickle`` otherwise;
message dicts shared between rounds are written once), sends a batch of chunks,
the helper returns the spool frame, and the flusher only writes it. The
helper holds no state that matters: it never touches the spool or the lake, so a
helper that dies, hangs or cannot start costs nothing but speed; the flusher then
encodes in-thread (and logs why). It is started with ``python -m`` (not
``multiprocessing``), so the agent's main module is never re-imported, and it exits
when its stdin closes, that is, when the agent process ends.

Wire: each message is a 4-byte little-endian length and a ``marshal`` payload.
Request: a list of chunks, each ``b"M"`` + marshal or ``b"P"`` + pickle of
``(invocation rows, round rows)``; reply: ``(frame, truncated fields)`` or
``("error", text)``. The helper writes one byte when it is ready. Only this
process and its own child read these bytes.
"""

from __future__ import annotations

import gc
import marshal
import os
import pickle
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from recorder.spool import encode_frame

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


def pack_chunk(inv_rows: list[Any], round_rows: list[Any]) -> bytes:
    """Rows as bytes for the helper; raises ``NotPicklable`` if they cannot be serialised."""
    value = (inv_rows, round_rows)
    try:
        return b"M" + marshal.dumps(value)
    except Exception:  # a value of another type (a dataclass, a str subclass...): pickle knows more
        pass
    try:
        return b"P" + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise NotPicklable(f"batch not picklable: {exc}") from None


def unpack_chunks(chunks: list[bytes]) -> tuple[list[Any], list[Any]]:
    """The rows of packed chunks, concatenated in order."""
    inv_rows: list[Any] = []
    round_rows: list[Any] = []
    for chunk in chunks:
        body = memoryview(chunk)[1:]
        a, b = marshal.loads(body) if chunk[:1] == b"M" else pickle.loads(body)
        inv_rows.extend(a)
        round_rows.extend(b)
    return inv_rows, round_rows


class EncoderProcess:
    """The parent's handle on one helper process; replies are read by a thread of their own.

    Batches are pipelined: the flusher sends batch N+1 while the helper encodes batch
    N, and a reader thread drains replies as they come, so neither side waits on a
    full pipe. Replies arrive in request order.
    """

    def __init__(self, max_field_bytes: int, on_reply: Callable[[], None]):
        self.started = time.monotonic()
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
            self._on_reply()  # the flusher may be holding staged chunks for us
            while True:
                (n,) = _LEN.unpack(_read_exact(self._out, _LEN.size))
                self.replies.append(marshal.loads(_read_exact(self._out, n)))
                self._on_reply()
        except Exception as exc:  # EOF, a broken pipe or a garbled reply: the helper is done
            self.dead = str(exc) or type(exc).__name__
            self._on_reply()

    def send(self, chunks: list[bytes]) -> None:
        """Queue a batch of packed chunks; its reply (frame, truncated fields) or ("error", text) comes in order."""
        payload = marshal.dumps(chunks)
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


def _encode(encoder: Any, payload: bytes) -> tuple[bytes, int]:
    inv_rows, round_rows = unpack_chunks(marshal.loads(payload))
    before = encoder.truncated_fields
    frame = encode_frame(encoder.table("invocations", inv_rows), encoder.table("rounds", round_rows))
    return frame, encoder.truncated_fields - before  # the rows are freed on return


def main() -> None:
    from recorder.arrow_pool import use_recording_pool
    from recorder.encode import Encoder

    use_recording_pool()
    encoder = Encoder(max_field_bytes=int(sys.argv[1]))
    # This process runs only our loop, and a batch's objects are freed by reference
    # counting the moment it is encoded: the cyclic collector would only walk every
    # unpickled batch (a fifth of the helper's time). It runs every 64 batches instead.
    gc.freeze()
    gc.disable()
    batches = 0
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
            payload = _read_exact(fin, n)
        except WorkerError:
            return
        try:
            reply: tuple[Any, Any] = _encode(encoder, payload)
        except Exception as exc:
            reply = ("error", f"{type(exc).__name__}: {exc}")
        out = marshal.dumps(reply)
        _write_all(fout, _LEN.pack(len(out)) + out)
        batches += 1
        if batches % 64 == 0:
            gc.collect()
