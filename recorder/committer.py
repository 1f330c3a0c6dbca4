"""The recorder's committer: its published parts go into the Delta log in batches.

Publishing a part is one object write; committing it is a transaction on a log
that every recorder shares, and a hundred processes committing every few seconds
would spend their time losing races. So each recorder collects the ids of the
pending records it published and commits them together at most once per
``interval`` (default 60 s) and once more at shutdown. A failed commit keeps the
ids for the next attempt, and a record this process never commits (it was killed)
is committed by the next maintenance pass: the files stay visible to readers
through their pending records all the while, so nothing is lost or hidden. A
process forked after its parent used delta-rs cannot use it (tokio's runtime does
not survive a fork), so there the commit runs in a short-lived subprocess.
"""

from __future__ import annotations

import threading
import time

from invlog.lake import Lake, delta
from invlog.lake.commit import commit_records, commit_records_in_subprocess


class Committer:
    def __init__(self, lake: Lake, interval: float = 60.0):
        self.lake, self.interval = lake, interval
        self._ids: list[str] = []
        self._lock = threading.Lock()
        self._last = time.monotonic()
        self.commits = 0
        self.committed_files = 0
        self.errors = 0
        self.last_error: str | None = None

    def add(self, record_id: str) -> None:
        with self._lock:
            self._ids.append(record_id)

    def waiting(self) -> int:
        """Pending records of this process not yet committed."""
        with self._lock:
            return len(self._ids)

    def due(self) -> bool:
        return bool(self._ids) and time.monotonic() - self._last >= self.interval

    def commit(self, attempts: int = 8) -> bool:
        """Commit the collected records now; False (ids kept) when the log refused."""
        with self._lock:
            ids = list(self._ids)
        self._last = time.monotonic()
        if not ids:
            return True
        try:
            if delta.usable_here():
                res = commit_records(self.lake, ids, attempts=attempts)
            else:  # forked after the parent used delta-rs: its runtime is unusable in this process
                res = commit_records_in_subprocess(self.lake, ids)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # delta-rs panics surface as pyo3's PanicException (a BaseException)
            self.errors += 1
            self.last_error = f"{type(exc).__name__}: {str(exc)[:300]}"
            return False
        with self._lock:
            done = set(ids)
            self._ids = [i for i in self._ids if i not in done]
        self.commits += 1
        self.committed_files += res.files
        return True
