"""The publisher: sealed spool segments become part files in the lake, on a thread of its own.

The spool writer hands it sealed segments (``add``); at start it also claims the orphan
segments a dead process left on the same spool (``replay_orphans``). Its thread
publishes them oldest first (``recorder.parts.publish``: part files, then a pending
record) and deletes each segment once it is in the lake; a failure leaves the segment
first in line and retries it with exponential backoff (0.25 s doubling to 30 s), at
once when the recorder flushes or stops. A replayed or retried segment is checked
against what is already published or compacted, so publishing is exactly-once. About
once a minute and when it finishes, it has the committer register the published parts
in the Delta log. Writing Parquet is mostly C++ work without the GIL, so publication
overlaps with the batch worker draining the queue instead of stalling it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from invlog.lake import Lake, markers
from recorder import parts
from recorder.committer import Committer
from recorder.ledger import Ledger
from recorder.spool import Segment, orphans

BACKOFF_START, BACKOFF_MAX = 0.25, 30.0


class Publisher:
    def __init__(self, lake: Lake, spool_dir: str, ledger: Ledger, committer: Committer, *,
                 urgent: Callable[[], bool], progress: Callable[[], None]):
        self.lake, self.spool_dir, self.ledger, self.committer = lake, spool_dir, ledger, committer
        self._urgent = urgent  # a flush or a shutdown is waiting: do not wait for the backoff
        self._progress = progress  # tell waiters that something was published
        self.backlog: list[Segment] = []  # sealed, oldest first; the head is being published
        self._wake = threading.Event()
        self._finishing = False  # the batch worker is done: drain what can be drained, commit, stop
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        self._backoff = BACKOFF_START

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="invocation-logs-publisher", daemon=True)
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def add(self, segment: Segment) -> None:
        self.backlog.append(segment)
        self._wake.set()

    def finish(self) -> None:
        self._finishing = True
        self._wake.set()

    def replay_orphans(self) -> None:
        """Claim the segments no live process holds (their writer died) for publication."""
        for path in orphans(self.spool_dir):
            seg = Segment.claim(path)
            if seg is not None:
                self.backlog.append(seg)
        if self.backlog:
            self._wake.set()

    def close_segments(self) -> None:
        """In a forked child: the parent's segments stay locked by the parent's descriptors."""
        for seg in self.backlog:
            seg.close()

    # ---- its thread ---------------------------------------------------------
    def _loop(self) -> None:
        while True:
            self._wake.wait(0.25)
            self._wake.clear()
            finishing = self._finishing
            ok = True
            if self.backlog and (finishing or self._urgent() or time.monotonic() >= self._retry_at):
                try:
                    ok = self._publish_backlog()
                except Exception:  # a bug here must not kill the publisher
                    ok = False
                    self.ledger.bug("publishing")
                self._progress()
            if self.committer.due() or (finishing and (not self.backlog or not ok)):
                self._commit()
            if finishing and (not self.backlog or not ok):
                return  # what could not be published stays spooled for the next recorder

    def _commit(self) -> None:
        """Register the published parts in the Delta log; on failure they stay pending (and visible)."""
        try:
            ok = self.committer.commit()
        except Exception:  # a bug here must not kill the publisher
            self.ledger.bug("committing")
            return
        if not ok:
            self.ledger.counters["commit_errors"] += 1
            self.ledger.log("commit", "invocation logs: committing to the Delta log failed (%s); %d records "
                            "stay pending and are retried", self.committer.last_error, self.committer.waiting())

    def _publish_backlog(self) -> bool:
        """Publish sealed segments oldest first; False when one fails (it stays, for a retry)."""
        counters = self.ledger.counters
        while self.backlog:
            seg = self.backlog[0]
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
                counters["publish_errors"] += 1
                counters["retries"] += 1
                self._retry_at = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, BACKOFF_MAX)
                self.ledger.log("publish", "invocation logs: publishing to the lake failed (%s: %s); %d "
                                "segments spooled, retrying", type(exc).__name__, exc, len(self.backlog))
                return False
            self._backoff = BACKOFF_START
            self.backlog.pop(0)
            counters["spool_lost_bytes"] += data.lost_bytes
            counters["spool_bad_frames"] += data.bad_frames
            if seg.items == 0:  # an orphan replayed from a dead process: not this process's records
                counters["replayed_segments"] += 1
                counters["replayed_invocations"] += written[0]
                counters["parts_written"] += written[2]
            else:
                self.ledger.count_written(written, seg.items)
        return True
