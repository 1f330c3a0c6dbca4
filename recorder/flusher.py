"""The batch worker: the recorder's bounded queue, drained into the spool by one thread.

The agent's thread only appends a ``(row, rounds)`` tuple to a deque under a lock
(well under a microsecond), or counts a drop when the queue is full. One daemon
thread per recorder wakes when a batch is queued or every ``spool_interval`` seconds
and runs one cycle: mirror the batch's attachments (``recorder.mirror``), encode it
into a spool frame, in-thread or through the helper pipeline (``recorder.helper``),
hand the frame to the spool writer (``recorder.spool_writer``: one write and one
fsync), and seal the segment when it is due, for the publisher's thread
(``recorder.publisher``) to turn into part files and commit to the Delta log. On
start, the publisher replays what a dead process left in the spool. ``flush`` waits
until everything accepted before it is in the lake; ``shutdown`` drains and stops.
Every outcome is counted in one ledger (``recorder.ledger``), and nothing here raises
into the agent: storage down, disk full or a bug is logged (rate-limited) and
counted, and the spool holds the backlog. Fork and exit: ``recorder.lifecycle``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import Any

from invlog.lake import Lake
from recorder import lifecycle
from recorder.committer import Committer
from recorder.encode import Encoder
from recorder.helper import HelperPipeline
from recorder.ledger import Ledger
from recorder.mirror import mirror_rows
from recorder.publisher import Publisher
from recorder.spool import encode_frame
from recorder.spool_writer import SpoolWriter


class Flusher:
    """Owns the queue and the worker thread; composes the helper, the spool writer and the publisher."""

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
        self._lost_seen = 0  # runs dropped as of the last wait_durable
        self.encoder_process = encoder_process and encoder.hook is None
        self.commit_interval = commit_interval
        os.makedirs(spool_dir, exist_ok=True)
        self._init_state(replay=True)
        lifecycle.track(self)

    def _init_state(self, *, replay: bool) -> None:
        self.ledger = Ledger()
        self._lock = self.ledger.lock  # the agent's thread and the worker share one short lock
        self._cond = threading.Condition()  # notified after every cycle and publication: flush waits on it
        self._wake = threading.Event()
        self._queue: deque[tuple[Any, Any]] = deque()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._stopped = False
        self._flush_requests = 0
        self._replayed = not replay
        self.committer = Committer(self.lake, self.commit_interval)
        self.publisher = Publisher(self.lake, self.spool_dir, self.ledger, self.committer,
                                   urgent=lambda: self._stopping or self._flush_requests > 0,
                                   progress=self._notify)
        self.spool = SpoolWriter(self.lake, self.spool_dir, self.ledger, self.committer, self.publisher,
                                 fsync=self.fsync, max_queue=self.max_queue,
                                 max_segment_bytes=self.max_segment_bytes, publish_interval=self.publish_interval)
        self.helper = HelperPipeline(self.encoder, self.ledger, enabled=self.encoder_process,
                                     batch_size=self.batch_size, max_queue=self.max_queue,
                                     spool_interval=self.spool_interval, flush_timeout=self.flush_timeout,
                                     wake=self._wake.set, spool=self.spool.write, encode_here=self._encode_here,
                                     stopping=lambda: self._stopping)

    # ---- the agent's side -------------------------------------------------
    def submit(self, item: tuple[Any, Any]) -> None:
        """Queue one invocation; drops (counted) when the queue is full. Never raises."""
        if self._thread is None:
            self._start()
        queue, ledger, helper = self._queue, self.ledger, self.helper
        with self._lock:
            if len(queue) + helper.staged_n < self.max_queue and not self._stopped:
                queue.append(item)
                ledger.accepted += 1
                if len(queue) < helper.wake_at:
                    return
                dropped = False
            else:
                ledger.counters["dropped_queue_full"] += 1
                ledger.drops_unacked += 1
                dropped = True
        self._wake.set()  # a full batch (or a full queue): wake the flusher now
        if dropped and not self._stopped:
            ledger.log("queue", "recording queue full (%d); dropping invocations", self.max_queue)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything queued before the call is in the lake; False on timeout or drops."""
        if self._stopped:
            return self._idle()
        if self._thread is None:
            self._start()
        with self._lock:
            target = self.ledger.accepted
        deadline = time.monotonic() + (self.flush_timeout if timeout is None else timeout)
        with self._cond:
            self._flush_requests += 1
            self._wake.set()
            try:
                while not (self._replayed and self.ledger.done >= target and not self.publisher.backlog
                           and not self.spool.unspooled):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0 or self._thread is None or not self._thread.is_alive():
                        return False
                    self._cond.wait(min(remaining, 0.1))
            finally:
                self._flush_requests -= 1
        return self.ledger.take_drops()

    def wait_durable(self, timeout: float | None = None) -> bool:
        """Block until every run accepted before the call is in the spool (fsynced) or the lake, without
        waiting for its publication; False on timeout or when runs were dropped since the last call."""
        if self._thread is None and not self._stopped:
            self._start()
        with self._lock:
            target, lost = self.ledger.accepted, self._lost_seen
        deadline = time.monotonic() + (self.flush_timeout if timeout is None else timeout)
        self._wake.set()
        while self.ledger.durable + self.ledger.lost < target:
            if time.monotonic() >= deadline or self._thread is None or not self._thread.is_alive():
                return False
            time.sleep(0.005)
        self._lost_seen = self.ledger.lost
        return self._lost_seen == lost

    def shutdown(self, timeout: float | None = None) -> bool:
        """Publish what is queued and stop the worker; idempotent. Leftovers stay spooled."""
        if self._stopped:
            return self._idle()
        self._stopping = True
        self._wake.set()
        deadline = time.monotonic() + (self.flush_timeout if timeout is None else timeout)
        if self._thread is not None:
            self._thread.join(max(0.0, deadline - time.monotonic()))
        self.publisher.join(max(0.0, deadline - time.monotonic()))
        self._stopped = True
        return self._idle()

    def pending(self) -> int:
        """Invocations accepted but not yet encoded (queued or staged for the helper)."""
        return len(self._queue) + self.helper.staged_n

    def stats(self) -> dict[str, int]:
        with self._lock:
            out = dict(self.ledger.counters)
            out["enqueued"] = self.ledger.accepted
            out["queue_depth"] = len(self._queue) + self.helper.staged_n
            out["in_flight"] = self.ledger.accepted - self.ledger.done
        out["uncommitted_records"] = self.committer.waiting()
        out["commits"] = self.committer.commits
        segs = self.publisher.backlog + ([self.spool.current] if self.spool.current else [])
        out["spool_backlog_segments"] = len(segs)
        out["spool_backlog_bytes"] = sum(s.size for s in segs)
        out["truncated_fields"] = self.encoder.truncated_fields
        return out

    # ---- lifecycle (recorder.lifecycle) -----------------------------------
    def after_fork(self) -> None:
        # The parent's segments stay locked by the parent's descriptors; closing ours keeps its lock.
        self.publisher.close_segments()
        self.spool.close_segment()
        self.helper.forget()
        self._init_state(replay=False)

    def stop_at_exit(self) -> None:
        self.shutdown(timeout=10.0)

    # ---- the worker -------------------------------------------------------
    def _idle(self) -> bool:
        return not self._queue and not self.publisher.backlog and self.spool.idle() and self.helper.idle()

    def _notify(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="invocation-logs-flusher", daemon=True)
                self._thread.start()
                self.publisher.start()

    def _run(self) -> None:
        if self.helper.enabled:
            self.helper.start()
        try:
            self.publisher.replay_orphans()
        except Exception:
            self.ledger.bug("replaying the spool")
        self._replayed = True
        while True:
            self._wake.wait(self.spool_interval)
            self._wake.clear()
            stopping = self._stopping
            try:
                self._cycle(force=stopping or self._flush_requests > 0)
            except Exception:  # a bug here must not kill the worker
                self.ledger.bug("a flusher cycle")
            self._notify()
            if stopping and not self._queue:
                break
        self.helper.close()
        self.publisher.finish()

    def _cycle(self, *, force: bool) -> None:
        with self._lock:
            items = list(self._queue)
            self._queue.clear()
        self.spool.retry()
        helper = self.helper
        if helper.in_flight():
            helper.collect(keep=helper.in_flight())  # whatever the helper has finished
        if items:
            self._encode_batch(items)
        if helper.pending():
            helper.pump(force)
        if helper.in_flight() and force:
            helper.collect()
        self.spool.seal_if_due(force)

    def _encode_batch(self, items: list[tuple[Any, Any]]) -> None:
        try:
            inv_rows = [row for row, _ in items]
            round_rows = [r for _, rounds in items for r in rounds]
            mirror_rows(self.lake, inv_rows, self.max_attachment_bytes, self.ledger)
        except Exception:
            self.ledger.counters["internal_errors"] += 1
            self.ledger.drop(len(items), "dropped_encode")
            self.ledger.log("encode", "invocation logs: preparing a batch failed; %d invocations dropped",
                            len(items), exc=True)
            return
        if self.helper.worker is None:
            self._encode_here(inv_rows, round_rows, len(items))
        else:
            self.helper.stage(inv_rows, round_rows, len(items))

    def _encode_here(self, inv_rows: list[Any], round_rows: list[Any], n: int) -> None:
        try:
            frame = encode_frame(self.encoder.table("invocations", inv_rows), self.encoder.table("rounds", round_rows))
        except Exception:
            self.ledger.counters["internal_errors"] += 1
            self.ledger.drop(n, "dropped_encode")
            self.ledger.log("encode", "invocation logs: encoding a batch failed; %d invocations dropped", n,
                            exc=True)
            return
        self.spool.write(frame, n)
