"""The helper pipeline: the flusher's side of encoding in a helper process.

With ``Recorder(encoder_process=True)`` the batch worker does not encode; it hands each
batch's rows here. ``stage`` serialises them into a chunk at once (young objects die
young; see ``CHUNK``), ``pump`` sends staged chunks to the helper process
(``recorder.encode_worker``) in batches of up to ``HELPER_BATCH`` runs, at most two
batches out at a time, and ``collect`` passes the frames it returns, in order, to the
spool writer. Whatever the helper cannot do is done in-thread and logged: a chunk that
cannot be pickled, a batch the helper failed, a helper that died, hangs or did not start
within ``STARTUP_GRACE`` (it is replaced at most three times). Nothing is lost with it:
what was sent and not answered is encoded here. ``pending()`` (runs staged) counts
against the recorder's queue bound; ``in_flight()`` is the batches sent and unanswered.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from recorder.encode import Encoder
from recorder.encode_worker import EncoderProcess, NotPicklable, WorkerError, pack_chunk, unpack_chunks
from recorder.ledger import Ledger

# With a helper process, queued invocations are serialised in chunks of this many as
# they arrive: objects that die young are never promoted to the collector's oldest
# generation, whose full collections would otherwise walk the agent's whole heap
# every few hundred runs (a third of the agent's time in the write benchmark).
CHUNK = 64
HELPER_BATCH = 1024  # runs per batch sent to the helper, at least batch_size (write bench: +7%)
STARTUP_GRACE = 10.0  # seconds a starting helper may take before it counts as failed
MAX_RESTARTS = 3

Spool = Callable[[bytes, int], None]  # a finished frame and the runs in it
EncodeHere = Callable[[list[Any], list[Any], int], None]


class HelperPipeline:
    def __init__(self, encoder: Encoder, ledger: Ledger, *, enabled: bool, batch_size: int, max_queue: int,
                 spool_interval: float, flush_timeout: float, wake: Callable[[], None], spool: Spool,
                 encode_here: EncodeHere, stopping: Callable[[], bool]):
        self.encoder, self.ledger = encoder, ledger
        self.batch_size, self.max_queue = batch_size, max_queue
        self.spool_interval, self.flush_timeout = spool_interval, flush_timeout
        self._wake, self._spool, self._encode_here, self._stopping = wake, spool, encode_here, stopping
        self.enabled = enabled  # False: the batch worker encodes in-thread and nothing is staged here
        # queued runs that wake the batch worker: a chunk while a helper runs, else a whole batch
        self.wake_at = min(CHUNK, batch_size) if enabled else batch_size
        # The helper gets larger batches than the thread encodes: packed chunks cost the agent
        # nothing while they wait, and fewer, larger frames mean fewer GIL round trips when a
        # segment is published (the publisher competes for the GIL with the agent's thread).
        self._batch = max(batch_size, HELPER_BATCH)
        self._worker: EncoderProcess | None = None
        self._failures = 0
        self._staged: deque[tuple[bytes, int, float]] = deque()  # packed chunks: (bytes, runs, since)
        self.staged_n = 0  # runs in them; read by the agent's thread under the ledger's lock
        self._inflight: deque[tuple[list[bytes], int, float]] = deque()  # sent to the helper
        self._reply = threading.Event()

    # ---- what the batch worker and tests read -------------------------------
    @property
    def worker(self) -> EncoderProcess | None:
        """The helper process in use; None when encoding in-thread."""
        return self._worker

    def pending(self) -> int:
        """Runs staged for the helper, not yet sent."""
        return self.staged_n

    def in_flight(self) -> int:
        """Batches sent to the helper and not yet answered."""
        return len(self._inflight)

    def idle(self) -> bool:
        return not self._staged and not self._inflight

    # ---- the batch worker's calls (its thread only) -------------------------
    def start(self) -> None:
        """Start the helper process (on the batch worker's thread: it takes about half a second)."""
        try:
            self._worker = EncoderProcess(self.encoder.max_field_bytes, self._on_reply)
            self.wake_at = min(CHUNK, self.batch_size)
        except Exception as exc:
            self.wake_at = self.batch_size  # encoding here: batches as large as without a helper
            self.ledger.counters["encoder_process_errors"] += 1
            self.ledger.log("worker", "invocation logs: cannot start the encoder process (%s); encoding "
                            "in-thread", exc)

    def stage(self, inv_rows: list[Any], round_rows: list[Any], n: int) -> None:
        try:
            chunk = pack_chunk(inv_rows, round_rows)
        except NotPicklable as exc:  # the helper is fine and keeps what it holds; this chunk is ours
            self.ledger.counters["encoder_process_errors"] += 1
            self.ledger.log("pickle", "invocation logs: %s; encoding it in-thread", exc)
            self._encode_here(inv_rows, round_rows, n)
            return
        self._staged.append((chunk, n, time.monotonic()))
        with self.ledger.lock:
            self.staged_n += n

    def pump(self, force: bool) -> None:
        """Send full batches (any batch when forced or old enough); encode here without a usable helper."""
        while self._staged:
            if not (force or self.staged_n >= self._batch
                    or time.monotonic() - self._staged[0][2] >= self.spool_interval):
                return
            worker = self._worker
            if worker is not None and worker.dead is not None:  # it died while idle (or never started)
                self._failed(worker.dead)
                worker = self._worker
            if worker is not None and not worker.ready:
                # Starting (about half a second): keep the chunks staged rather than encode them
                # here, which would load pyarrow's pandas glue into the agent for good (57,000
                # objects for every full collection to walk). A flush waits for it, briefly.
                waited = time.monotonic() - worker.started
                if waited > STARTUP_GRACE:
                    self._failed("the encoder process did not start in time")
                    continue
                if not force and self.staged_n < self.max_queue // 2:
                    return
                if not force or self._stopping():  # too many waiting, or the process is exiting: here
                    self._encode_chunks(*self._take())
                    continue
                self._reply.wait(min(0.05, STARTUP_GRACE - waited))
                self._reply.clear()
                continue
            if worker is not None and worker.ready and len(self._inflight) >= 2:
                if not force:
                    return  # two batches at the helper already: it wakes us when one is done
                self.collect(keep=1)
                continue
            chunks, n = self._take()
            if worker is not None and worker.ready and worker.dead is None:
                try:
                    worker.send(chunks)
                    self._inflight.append((chunks, n, time.monotonic()))
                    continue
                except WorkerError as exc:
                    self._failed(str(exc))
            self._encode_chunks(chunks, n)

    def collect(self, keep: int = 0) -> None:
        """Spool the helper's finished frames in order, waiting while more than ``keep`` are out."""
        worker = self._worker
        while self._inflight and worker is not None:
            if worker.replies:
                reply = worker.replies.popleft()
                chunks, n, _ = self._inflight.popleft()
                if reply[0] == "error":
                    self.ledger.counters["encoder_process_errors"] += 1
                    self.ledger.log("worker", "invocation logs: the encoder process failed a batch (%s); "
                                    "encoding it in-thread", reply[1])
                    self._encode_chunks(chunks, n)
                else:
                    self.encoder.truncated_fields += reply[1]
                    self._spool(reply[0], n)
                continue
            if worker.dead is not None:
                self._failed(worker.dead)
                return
            if len(self._inflight) <= keep:
                return
            if time.monotonic() - self._inflight[0][2] > max(10.0, self.flush_timeout):
                self._failed("the encoder process did not answer in time")
                return
            self._reply.wait(0.05)
            self._reply.clear()

    def close(self) -> None:
        """Collect what is out and stop the helper (the batch worker is finishing)."""
        if self._inflight:
            self.collect()
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def forget(self) -> None:
        """In a forked child: the helper is the parent's; leave it alone."""
        if self._worker is not None:
            self._worker.forget()

    # ---- inside -------------------------------------------------------------
    def _take(self) -> tuple[list[bytes], int]:
        """Whole staged chunks, oldest first, up to a helper batch of runs (at least one chunk)."""
        chunks: list[bytes] = []
        n = 0
        while self._staged and (not chunks or n + self._staged[0][1] <= self._batch):
            chunk, k, _ = self._staged.popleft()
            chunks.append(chunk)
            n += k
        with self.ledger.lock:
            self.staged_n -= n
        return chunks, n

    def _encode_chunks(self, chunks: list[bytes], n: int) -> None:
        try:
            inv_rows, round_rows = unpack_chunks(chunks)
        except Exception:  # our own bytes: a bug, never the data
            self.ledger.counters["internal_errors"] += 1
            self.ledger.drop(n, "dropped_encode")
            self.ledger.log("encode", "invocation logs: unpacking a batch failed; %d invocations dropped", n,
                            exc=True)
            return
        self._encode_here(inv_rows, round_rows, n)

    def _on_reply(self) -> None:  # on the helper's reader thread
        self._reply.set()
        self._wake()

    def _failed(self, why: str) -> None:
        """Replace the helper (at most three times) and encode here what it held."""
        self.ledger.counters["encoder_process_errors"] += 1
        self.ledger.log("worker", "invocation logs: encoder process failed (%s); encoding in-thread", why)
        worker = self._worker
        if worker is not None:
            self._worker = None
            worker.close(kill=True)
            self._failures += 1
            if self._failures <= MAX_RESTARTS and not self._stopping():  # not forever, nor at exit
                self.start()
            else:
                self.wake_at = self.batch_size
        pending, self._inflight = self._inflight, deque()
        for chunks, n, _ in pending:
            self._encode_chunks(chunks, n)
