"""The spool writer: encoded frames appended to the open segment, sealed for publication.

Each frame (one batch) is appended to this process's open segment with one write and
one fsync (group commit): from then on the batch survives a crash. A segment is sealed
and handed to the publisher when it is full (``max_segment_bytes``), when it has been
open ``publish_interval`` seconds and the publisher has nothing waiting (while it is
busy or storage is failing, the open segment keeps growing: fewer, larger parts), or
when a flush or shutdown forces it. When the spool cannot be written (a full disk, a
broken mount), the frame is published straight from memory; when the lake fails too,
it is held in memory, up to ``max_queue`` runs, and retried on the next cycle; past
that it is dropped and counted (``dropped_spool``).
"""

from __future__ import annotations

import time

from invlog.lake import Lake, new_part_id
from recorder import parts
from recorder.committer import Committer
from recorder.ledger import Ledger
from recorder.publisher import Publisher
from recorder.spool import Segment, read_frames


class SpoolWriter:
    def __init__(self, lake: Lake, spool_dir: str, ledger: Ledger, committer: Committer, publisher: Publisher, *,
                 fsync: bool, max_queue: int, max_segment_bytes: int, publish_interval: float):
        self.lake, self.spool_dir, self.ledger = lake, spool_dir, ledger
        self.committer, self.publisher = committer, publisher
        self.fsync, self.max_queue = fsync, max_queue
        self.max_segment_bytes, self.publish_interval = max_segment_bytes, publish_interval
        self.current: Segment | None = None
        self._opened = 0.0
        self.unspooled: list[tuple[bytes, int]] = []  # frames neither the spool nor the lake took

    def idle(self) -> bool:
        return self.current is None and not self.unspooled

    def write(self, frame: bytes, n: int) -> None:
        """Make one frame of ``n`` runs durable; never raises."""
        try:
            if self.current is None:
                self.current = Segment.create(self.spool_dir)
                self._opened = time.monotonic()
            self.current.append(frame, fsync=self.fsync)
            self.current.items += n
            with self.ledger.lock:
                self.ledger.durable += n
            return
        except OSError as exc:
            self.ledger.counters["spool_errors"] += 1
            self.ledger.log("spool", "invocation logs: spool write failed (%s); writing to the lake directly", exc)
            self.seal()
        self._publish_directly(frame, n)

    def retry(self) -> None:
        """Write again what neither the spool nor the lake took last time."""
        held, self.unspooled = self.unspooled, []
        for frame, n in held:
            self.write(frame, n)

    def seal_if_due(self, force: bool) -> None:
        cur = self.current
        if cur is not None and (force or cur.size >= self.max_segment_bytes
                                or (not self.publisher.backlog
                                    and time.monotonic() - self._opened >= self.publish_interval)):
            self.seal()

    def seal(self) -> None:
        cur, self.current = self.current, None
        if cur is None:
            return
        if cur.size == 0:
            cur.remove()
        else:
            self.publisher.add(cur)

    def close_segment(self) -> None:
        """In a forked child: the open segment is the parent's."""
        if self.current is not None:
            self.current.close()

    def _publish_directly(self, frame: bytes, n: int) -> None:
        try:  # the spool is unusable (disk full?): publish straight from memory
            data = read_frames(frame)
            written = parts.publish(self.lake, new_part_id(), data.invocations, data.rounds)
            self.ledger.count_written(written, n)
            with self.ledger.lock:
                self.ledger.durable += n
            if written[3]:
                self.committer.add(written[3])
        except Exception as exc:
            self.ledger.counters["publish_errors"] += 1
            self.ledger.log("direct", "invocation logs: lake write failed too (%s); keeping the batch in memory",
                            exc)
            held = sum(k for _, k in self.unspooled)
            if held + n > self.max_queue:
                self.ledger.drop(n, "dropped_spool")
                self.ledger.log("drop", "invocation logs: %d invocations dropped (spool and lake unavailable)", n)
            else:
                self.unspooled.append((frame, n))
