"""The write path's ledger: what it accepted, wrote and dropped, and how it reports failures.

Every part of the write path (the batch worker, the helper pipeline, the spool writer,
the publisher, attachment mirroring) counts into one ``Ledger``, so ``Recorder.stats()``
reads one consistent set of counters and ``flush`` can tell whether anything it waited
for was dropped. ``accepted`` counts runs taken onto the queue, ``done`` those of them
now in the lake or dropped; a flush waits for ``done`` to reach what was accepted before
it. Failures are logged through ``log``: at most once per kind every ten seconds (a
storage outage must not flood the agent's log) and with the lake's redaction applied,
because storage errors can quote signed URLs or keys.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from recorder.redact import redact_text

log = logging.getLogger("invocation_logs")
LOG_EVERY = 10.0  # seconds between two log lines of the same kind

COUNTERS = (
    "enqueued", "dropped_queue_full", "dropped_spool", "dropped_encode", "written_invocations",
    "written_rounds", "parts_written", "publish_errors", "spool_errors", "retries", "replayed_segments",
    "replayed_invocations", "spool_lost_bytes", "spool_bad_frames", "attachments_mirrored",
    "attachment_errors", "internal_errors", "encoder_process_errors", "commit_errors",
)


class Ledger:
    __slots__ = ("_last_log", "accepted", "counters", "done", "drops_unacked", "durable", "lock", "lost")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counters = dict.fromkeys(COUNTERS, 0)
        self.accepted = 0  # runs accepted onto the queue by this process
        self.done = 0  # of those, published to the lake or dropped
        self.durable = 0  # of those, in the spool (written, fsynced) or published straight to the lake
        self.lost = 0  # of those, dropped
        self.drops_unacked = 0  # dropped since the last flush said so
        self._last_log: dict[str, float] = {}

    def count_written(self, written: tuple[int, int, int, str | None], done: int) -> None:
        """A publication: (invocations, rounds, files, record) of ``done`` accepted runs."""
        # One critical section: stats() never sees a write counted and still in flight.
        with self.lock:
            self.counters["written_invocations"] += written[0]
            self.counters["written_rounds"] += written[1]
            self.counters["parts_written"] += written[2]
            self.done += done

    def drop(self, n: int, counter: str) -> None:
        with self.lock:
            self.counters[counter] += n
            self.done += n
            self.drops_unacked += n
            self.lost += n

    def take_drops(self) -> bool:
        """True when nothing was dropped since the last call (what ``flush`` reports)."""
        with self.lock:
            ok, self.drops_unacked = self.drops_unacked == 0, 0
        return ok

    def bug(self, what: str) -> None:
        """A failure of our own code: counted, logged with its traceback, never raised."""
        self.counters["internal_errors"] += 1
        self.log("bug", "invocation logs: %s failed", what, exc=True)

    def log(self, key: str, msg: str, *args: Any, exc: bool = False) -> None:
        now = time.monotonic()
        if now - self._last_log.get(key, -1e9) >= LOG_EVERY:
            self._last_log[key] = now
            log.warning("%s", redact_text(msg % args if args else msg), exc_info=exc)
