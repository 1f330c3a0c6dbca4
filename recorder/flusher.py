"""The background flusher: bounded queue -> durable spool -> Parquet part files.

The agent's thread only appends a tuple to a deque (under a lock, well under a
microsecond). One daemon thread per recorder wakes when ``batch_size`` items are
queued or every ``spool_interval`` seconds, encodes the batch, and appends it to
the spool with one write and one fsync (group commit). Every ``publish_interval``
seconds (or on ``flush``/``shutdown``, or when a segment is full) it seals the
segment, and a second thread, the publisher, writes sealed segments as part files
and deletes them; its committer (``recorder.committer``) registers the published
parts in the Delta log about once a minute and at shutdown. On start it replays the orphan segments that a dead process
left. Nothing here raises into the agent: storage down, disk full or a bug are
logged (rate-limited) and counted, the spool holds the backlog, and publication is
retried with exponential backoff.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from typing import Any

from invlog.lake import INVOCATIONS, Lake, markers, new_part_id
from recorder import parts
from recorder.attachments import mirror
from recorder.committer import Committer
from recorder.encode import Encoder
from recorder.encode_worker import EncoderProcess, NotPicklable, WorkerError, pack_chunk, unpack_chunks
from recorder.redact import redact_text
from recorder.spool import Segment, encode_frame, orphans, read_frames

log = logging.getLogger("invocation_logs")
_ATTACH = INVOCATIONS.get_field_index("attachments")
_live: weakref.WeakSet[Flusher] = weakref.WeakSet()
# With a helper process, queued invocations are serialised in chunks of this many as
# they arrive: objects that die young are never promoted to the collector's oldest
# generation, whose full collections would otherwise walk the agent's whole heap
# every few hundred runs (a third of the agent's time in the write benchmark).
CHUNK = 64
HELPER_BATCH = 1024  # runs per batch sent to the helper, at least batch_size (write bench: +7%)
STARTUP_GRACE = 10.0  # seconds a starting helper may take before it counts as failed

COUNTERS = (
    "enqueued", "dropped_queue_full", "dropped_spool", "dropped_encode", "written_invocations",
    "written_rounds", "parts_written", "publish_errors", "spool_errors", "retries", "replayed_segments",
    "replayed_invocations", "spool_lost_bytes", "spool_bad_frames", "attachments_mirrored",
    "attachment_errors", "internal_errors", "encoder_process_errors", "commit_errors",
)


class Flusher:
    """Owns the queue, the worker thread, the spool segments and publication."""

    def __init__(self, lake: Lake, spool_dir: str, encoder: Encoder, *, max_queue: int, batch_size: int,
                 spool_interval: float, publish_interval: float, max_segment_bytes: int,
                 max_attachment_bytes: int, fsync: bool, flush_timeout: float, encoder_process: bool = False,
                 commit_interval: float = 60.0):
        self.lake, self.spool_dir, self.encoder = lake, spool_dir, encoder
        self.max_queue, self.batch_size = max_queue, batch_size
        self.spool_interval, self.publish_interval = spool_interval, publish_interval
        self.max_segment_bytes, self.max_attachment_bytes = max_segment_bytes, max_attachment_bytes
        self.fsync, self.flush_timeout = fsync, flush_timeout
        # A user hook is the caller's code with the caller's state: it runs in this process.
        self.encoder_process = encoder_process and encoder.hook is None
        os.makedirs(spool_dir, exist_ok=True)
        self.commit_interval = commit_interval
        self._init_state(replay=True)
        _live.add(self)

    def _init_state(self, *, replay: bool) -> None:
        self._lock = threading.Lock()
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._queue: deque[Any] = deque()
        self._accepted = 0  # items accepted onto the queue by this process
        self._done = 0  # of those, published to the lake or dropped
        self._drops_unacked = 0
        self._thread: threading.Thread | None = None
        self._publisher: threading.Thread | None = None
        self._publish_wake = threading.Event()
        self._encoding_done = False  # the flusher thread has finished: the publisher drains and stops
        self._stopping = False
        self._stopped = False
        self._flush_requests = 0
        self._current: Segment | None = None
        self._segment_opened = 0.0
        self._backlog: list[Segment] = []
        self._unspooled: list[tuple[bytes, int]] = []
        self._worker: EncoderProcess | None = None
        self._worker_failures = 0
        self._wake_at = min(CHUNK, self.batch_size) if self.encoder_process else self.batch_size
        # The helper gets larger batches than the thread encodes: packed chunks cost the agent
        # nothing while they wait, and fewer, larger frames mean fewer GIL round trips when a
        # segment is published (the publisher competes for the GIL with the agent's thread).
        self._helper_batch = max(self.batch_size, HELPER_BATCH)
        self._staged: deque[tuple[bytes, int, float]] = deque()  # packed chunks for the helper: (bytes, n, since)
        self._staged_n = 0  # invocations in them
        self._inflight: deque[tuple[list[bytes], int, float]] = deque()  # sent to the helper
        self._reply = threading.Event()
        self._retry_at = 0.0
        self._backoff = 0.25
        self._replayed = not replay
        self._last_log: dict[str, float] = {}
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.committer = Committer(self.lake, self.commit_interval)

    # ---- the agent's side -------------------------------------------------
    def submit(self, item: Any) -> None:
        """Queue one invocation; drops (counted) when the queue is full. Never raises."""
        if self._thread is None:
            self._start()
        queue = self._queue
        with self._lock:
            if len(queue) + self._staged_n < self.max_queue and not self._stopped:
                queue.append(item)
                self._accepted += 1
                if len(queue) < self._wake_at:
                    return
                dropped = False
            else:
                self.counters["dropped_queue_full"] += 1
                self._drops_unacked += 1
                dropped = True
        self._wake.set()  # a full batch (or a full queue): wake the flusher now
        if dropped and not self._stopped:
            self._log("queue", "recording queue full (%d); dropping invocations", self.max_queue)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything queued before the call is in the lake; False on timeout or drops."""
        if self._stopped:
            return self._idle()
        if self._thread is None:
            self._start()
        with self._lock:
            target = self._accepted
        deadline = time.monotonic() + (self.flush_timeout if timeout is None else timeout)
        with self._cond:
            self._flush_requests += 1
            self._wake.set()
            try:
                while not (self._replayed and self._done >= target and not self._backlog
                           and not self._unspooled):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or not self._thread.is_alive():
                        return False
                    self._cond.wait(min(remaining, 0.1))
            finally:
                self._flush_requests -= 1
        with self._lock:
            ok, self._drops_unacked = self._drops_unacked == 0, 0
        return ok

    def shutdown(self, timeout: float | None = None) -> bool:
        """Publish what is queued and stop the worker; idempotent. Leftovers stay spooled."""
        if self._stopped:
            return self._idle()
        self._stopping = True
        self._wake.set()
        deadline = time.monotonic() + (self.flush_timeout if timeout is None else timeout)
        for thread in (self._thread, self._publisher):
            if thread is not None:
                thread.join(max(0.0, deadline - time.monotonic()))
        self._stopped = True
        return self._idle()

    def _idle(self) -> bool:
        return (not self._queue and not self._backlog and not self._unspooled and not self._inflight
                and not self._staged and self._current is None)

    def pending(self) -> int:
        """Invocations accepted but not yet encoded (queued or staged for the helper)."""
        return len(self._queue) + self._staged_n

    def stats(self) -> dict[str, int]:
        with self._lock:
            out = dict(self.counters)
            out["enqueued"] = self._accepted
            out["queue_depth"] = len(self._queue) + self._staged_n
            out["in_flight"] = self._accepted - self._done
        out["uncommitted_records"] = self.committer.waiting()
        out["commits"] = self.committer.commits
        segs = self._backlog + ([self._current] if self._current else [])
        out["spool_backlog_segments"] = len(segs)
        out["spool_backlog_bytes"] = sum(s.size for s in segs)
        out["truncated_fields"] = self.encoder.truncated_fields
        return out

    # ---- the worker -------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="invocation-logs-flusher", daemon=True)
                self._publisher = threading.Thread(target=self._publish_loop, name="invocation-logs-publisher",
                                                   daemon=True)
                self._thread.start()
                self._publisher.start()

    def _run(self) -> None:
        if self.encoder_process:
            self._start_worker()
        try:
            self._replay_orphans()
        except Exception:
            self.counters["internal_errors"] += 1
            log.exception("invocation logs: replaying the spool failed")
        self._replayed = True
        while True:
            self._wake.wait(self.spool_interval)
            self._wake.clear()
            stopping = self._stopping
            try:
                self._cycle(force=stopping or self._flush_requests > 0)
            except Exception:  # a bug here must not kill the worker
                self.counters["internal_errors"] += 1
                self._log("bug", "invocation logs: flusher cycle failed", exc=True)
            with self._cond:
                self._cond.notify_all()
            if stopping and not self._queue:
                break
        if self._inflight:
            self._collect()
        if self._worker is not None:
            self._worker.close()
            self._worker = None
        self._encoding_done = True
        self._publish_wake.set()

    def _publish_loop(self) -> None:
        """Publish sealed segments on a thread of their own, so encoding never waits on the lake.

        Writing Parquet is mostly C++ work without the GIL: here it overlaps with the
        flusher draining the queue, where it used to stall it for the length of every
        publication. Failed publications are retried with backoff, at once on flush.
        """
        while True:
            self._publish_wake.wait(0.25)
            self._publish_wake.clear()
            finishing = self._encoding_done
            ok = True
            if self._backlog and (finishing or self._stopping or self._flush_requests > 0
                                  or time.monotonic() >= self._retry_at):
                try:
                    ok = self._publish_backlog()
                except Exception:  # a bug here must not kill the publisher
                    ok = False
                    self.counters["internal_errors"] += 1
                    self._log("bug", "invocation logs: publishing failed", exc=True)
                with self._cond:
                    self._cond.notify_all()
            if self.committer.due() or (finishing and (not self._backlog or not ok)):
                self._commit()
            if finishing and (not self._backlog or not ok):
                return  # what could not be published stays spooled for the next recorder

    def _commit(self) -> None:
        """Register the published parts in the Delta log; on failure they stay pending (and visible)."""
        try:
            ok = self.committer.commit()
        except Exception:  # a bug here must not kill the publisher
            self.counters["internal_errors"] += 1
            self._log("bug", "invocation logs: committing failed", exc=True)
            return
        if not ok:
            self.counters["commit_errors"] += 1
            self._log("commit", "invocation logs: committing to the Delta log failed (%s); %d records stay "
                      "pending and are retried", self.committer.last_error, self.committer.waiting())

    def _cycle(self, *, force: bool) -> None:
        with self._lock:
            items = list(self._queue)
            self._queue.clear()
        retry, self._unspooled = self._unspooled, []
        for frame, n in retry:
            self._spool(frame, n)
        if self._inflight:
            self._collect(keep=len(self._inflight))  # whatever the helper has finished
        if items:
            self._encode_batch(items)
        if self._staged:
            self._send_staged(force)
        if self._inflight and force:
            self._collect()
        cur = self._current
        # While the publisher is still busy (or storage is failing), the open segment keeps
        # growing instead of being sealed on time: fewer, larger parts, as before it had a thread.
        if cur is not None and (force or cur.size >= self.max_segment_bytes
                                or (not self._backlog
                                    and time.monotonic() - self._segment_opened >= self.publish_interval)):
            self._seal()

    def _rows(self, items: list[Any]) -> tuple[list[Any], list[Any]]:
        """Split queued items into invocation and round rows, mirroring attachments first."""
        inv_rows, round_rows = [], []
        for row, rounds, files, tenant in items:
            if files:
                metas = [mirror(self.lake, tenant, f, self.max_attachment_bytes) for f in files]
                for m in metas:
                    if m["error"]:
                        self.counters["attachment_errors"] += 1
                        self._log("attach", "invocation logs: mirroring %s failed: %s", m["filename"], m["error"])
                    elif m["uri"]:
                        self.counters["attachments_mirrored"] += 1
                row = (*row[:_ATTACH], metas, *row[_ATTACH + 1:])
            inv_rows.append(row)
            round_rows.extend(rounds)
        return inv_rows, round_rows

    def _encode_batch(self, items: list[Any]) -> None:
        try:
            inv_rows, round_rows = self._rows(items)
        except Exception:
            self.counters["internal_errors"] += 1
            self._drop(len(items), "dropped_encode")
            self._log("encode", "invocation logs: preparing a batch failed; %d invocations dropped", len(items),
                      exc=True)
            return
        if self._worker is None:
            self._encode_here(inv_rows, round_rows, len(items))
            return
        try:
            chunk = pack_chunk(inv_rows, round_rows)
        except NotPicklable as exc:  # the helper is fine and keeps what it holds; this chunk is ours
            self.counters["encoder_process_errors"] += 1
            self._log("pickle", "invocation logs: %s; encoding it in-thread", exc)
            self._encode_here(inv_rows, round_rows, len(items))
            return
        self._staged.append((chunk, len(items), time.monotonic()))
        with self._lock:
            self._staged_n += len(items)

    def _take_staged(self) -> tuple[list[bytes], int]:
        """Whole staged chunks, oldest first, up to a helper batch of invocations (at least one chunk)."""
        chunks, n = [], 0
        limit = self._helper_batch
        while self._staged and (not chunks or n + self._staged[0][1] <= limit):
            chunk, k, _ = self._staged.popleft()
            chunks.append(chunk)
            n += k
        with self._lock:
            self._staged_n -= n
        return chunks, n

    def _send_staged(self, force: bool) -> None:
        """Send full batches (any batch when forced or old enough); encode here without a usable helper."""
        while self._staged:
            if not (force or self._staged_n >= self._helper_batch
                    or time.monotonic() - self._staged[0][2] >= self.spool_interval):
                return
            worker = self._worker
            if worker is not None and worker.dead is not None:  # it died while idle (or never started)
                self._worker_failed(worker.dead)
                worker = self._worker
            if worker is not None and not worker.ready:
                # Starting (about half a second): keep the chunks staged rather than encode them
                # here, which would load pyarrow's pandas glue into the agent for good (57,000
                # objects for every full collection to walk). A flush waits for it, briefly.
                waited = time.monotonic() - worker.started
                if waited > STARTUP_GRACE:
                    self._worker_failed("the encoder process did not start in time")
                    continue
                if not force and self._staged_n < self.max_queue // 2:
                    return
                if not force or self._stopping:  # too many waiting, or the process is exiting: here
                    self._encode_chunks(*self._take_staged())
                    continue
                self._reply.wait(min(0.05, STARTUP_GRACE - waited))
                self._reply.clear()
                continue
            if worker is not None and worker.ready and len(self._inflight) >= 2:
                if not force:
                    return  # two batches at the helper already: it wakes us when one is done
                self._collect(keep=1)
                continue
            chunks, n = self._take_staged()
            if worker is not None and worker.ready and worker.dead is None:
                try:
                    worker.send(chunks)
                    self._inflight.append((chunks, n, time.monotonic()))
                    continue
                except WorkerError as exc:
                    self._worker_failed(str(exc))
            self._encode_chunks(chunks, n)

    def _encode_here(self, inv_rows: list[Any], round_rows: list[Any], n: int) -> None:
        try:
            frame = encode_frame(self.encoder.table("invocations", inv_rows), self.encoder.table("rounds", round_rows))
        except Exception:
            self.counters["internal_errors"] += 1
            self._drop(n, "dropped_encode")
            self._log("encode", "invocation logs: encoding a batch failed; %d invocations dropped", n, exc=True)
            return
        self._spool(frame, n)

    def _encode_chunks(self, chunks: list[bytes], n: int) -> None:
        try:
            inv_rows, round_rows = unpack_chunks(chunks)
        except Exception:  # our own bytes: a bug, never the data
            self.counters["internal_errors"] += 1
            self._drop(n, "dropped_encode")
            self._log("encode", "invocation logs: unpacking a batch failed; %d invocations dropped", n, exc=True)
            return
        self._encode_here(inv_rows, round_rows, n)

    def _start_worker(self) -> None:
        try:
            self._worker = EncoderProcess(self.encoder.max_field_bytes, self._on_reply)
            self._wake_at = min(CHUNK, self.batch_size)
        except Exception as exc:
            self._wake_at = self.batch_size  # encoding here: batches as large as without a helper
            self.counters["encoder_process_errors"] += 1
            self._log("worker", "invocation logs: cannot start the encoder process (%s); encoding in-thread", exc)

    def _on_reply(self) -> None:  # on the reader thread
        self._reply.set()
        self._wake.set()

    def _collect(self, keep: int = 0) -> None:
        """Spool the helper's finished frames in order, waiting while more than ``keep`` are out."""
        worker = self._worker
        while self._inflight and worker is not None:
            if worker.replies:
                reply = worker.replies.popleft()
                chunks, n, _ = self._inflight.popleft()
                if reply[0] == "error":
                    self.counters["encoder_process_errors"] += 1
                    self._log("worker", "invocation logs: the encoder process failed a batch (%s); encoding "
                              "it in-thread", reply[1])
                    self._encode_chunks(chunks, n)
                else:
                    self.encoder.truncated_fields += reply[1]
                    self._spool(reply[0], n)
                continue
            if worker.dead is not None:
                self._worker_failed(worker.dead)
                return
            if len(self._inflight) <= keep:
                return
            if time.monotonic() - self._inflight[0][2] > max(10.0, self.flush_timeout):
                self._worker_failed("the encoder process did not answer in time")
                return
            self._reply.wait(0.05)
            self._reply.clear()

    def _worker_failed(self, why: str) -> None:
        """Replace the helper (at most three times) and encode here what it held."""
        self.counters["encoder_process_errors"] += 1
        self._log("worker", "invocation logs: encoder process failed (%s); encoding in-thread", why)
        worker = self._worker
        if worker is not None:
            self._worker = None
            worker.close(kill=True)
            self._worker_failures += 1
            if self._worker_failures <= 3 and not self._stopping:  # not restarted forever, nor at exit
                self._start_worker()
            else:
                self._wake_at = self.batch_size
        pending, self._inflight = self._inflight, deque()
        for chunks, n, _ in pending:
            self._encode_chunks(chunks, n)

    def _spool(self, frame: bytes, n: int) -> None:
        try:
            if self._current is None:
                self._current = Segment.create(self.spool_dir)
                self._segment_opened = time.monotonic()
            self._current.append(frame, fsync=self.fsync)
            self._current.items += n
            return
        except OSError as exc:
            self.counters["spool_errors"] += 1
            self._log("spool", "invocation logs: spool write failed (%s); writing to the lake directly", exc)
            self._seal()
        try:  # the spool is unusable (disk full?): publish straight from memory
            data = read_frames(frame)
            written = parts.publish(self.lake, new_part_id(), data.invocations, data.rounds)
            self._count_written(written, n)
            if written[3]:
                self.committer.add(written[3])
        except Exception as exc:
            self.counters["publish_errors"] += 1
            self._log("direct", "invocation logs: lake write failed too (%s); keeping the batch in memory", exc)
            held = sum(k for _, k in self._unspooled)
            if held + n > self.max_queue:
                self._drop(n, "dropped_spool")
                self._log("drop", "invocation logs: %d invocations dropped (spool and lake unavailable)", n)
            else:
                self._unspooled.append((frame, n))

    def _seal(self) -> None:
        cur, self._current = self._current, None
        if cur is None:
            return
        if cur.size == 0:
            cur.remove()
        else:
            self._backlog.append(cur)
            self._publish_wake.set()

    def _publish_backlog(self) -> bool:
        """Publish sealed segments oldest first; False when one fails (it stays, for a retry)."""
        while self._backlog:
            seg = self._backlog[0]
            try:
                data = seg.read()
                # A replayed or retried segment may have been published, and even compacted, before.
                check = markers.published_or_merged(self.lake) if seg.items == 0 or seg.attempts else None
                seg.attempts += 1
                written = parts.publish(self.lake, seg.id, data.invocations, data.rounds, check)
                if written[3]:
                    self.committer.add(written[3])
                seg.remove()
            except Exception as exc:
                self.counters["publish_errors"] += 1
                self.counters["retries"] += 1
                self._retry_at = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, 30.0)
                self._log("publish", "invocation logs: publishing to the lake failed (%s: %s); %d segments "
                          "spooled, retrying", type(exc).__name__, exc, len(self._backlog))
                return False
            self._backoff = 0.25
            self._backlog.pop(0)
            self.counters["spool_lost_bytes"] += data.lost_bytes
            self.counters["spool_bad_frames"] += data.bad_frames
            if seg.items == 0:  # an orphan replayed from a dead process: not this process's records
                self.counters["replayed_segments"] += 1
                self.counters["replayed_invocations"] += written[0]
                self.counters["parts_written"] += written[2]
            else:
                self._count_written(written, seg.items)
        return True

    def _replay_orphans(self) -> None:
        for path in orphans(self.spool_dir):
            seg = Segment.claim(path)
            if seg is not None:
                self._backlog.append(seg)
        if self._backlog:
            self._publish_wake.set()

    # ---- bookkeeping ------------------------------------------------------
    def _count_written(self, written: tuple[int, int, int, str | None], done: int) -> None:
        # One critical section: stats() never sees a write counted and still in flight.
        with self._lock:
            self.counters["written_invocations"] += written[0]
            self.counters["written_rounds"] += written[1]
            self.counters["parts_written"] += written[2]
            self._done += done

    def _drop(self, n: int, counter: str) -> None:
        with self._lock:
            self.counters[counter] += n
            self._done += n
            self._drops_unacked += n

    def _log(self, key: str, msg: str, *args: Any, exc: bool = False) -> None:
        now = time.monotonic()
        if now - self._last_log.get(key, -1e9) >= 10.0:
            self._last_log[key] = now
            # storage errors can quote signed URLs or keys: the log gets the same redaction as the lake
            log.warning("%s", redact_text(msg % args if args else msg), exc_info=exc)

    def _after_fork(self) -> None:
        # The parent's segments stay locked by the parent's descriptors; closing ours keeps its lock.
        for seg in self._backlog + ([self._current] if self._current else []):
            seg.close()
        if self._worker is not None:
            self._worker.forget()
        self._init_state(replay=False)


def _after_fork_in_child() -> None:
    for f in list(_live):
        f._after_fork()


def _shutdown_all() -> None:
    for f in list(_live):
        try:
            f.shutdown(timeout=10.0)
        except Exception:  # pragma: no cover - never fail interpreter exit
            log.exception("invocation logs: shutdown at exit failed")


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_shutdown_all)
