"""Fork and interpreter exit for the recorder's background workers.

A worker (the flusher, the session-memory writer) registers itself with ``track``.
In a forked child, each one's ``after_fork`` runs: the parent's threads do not exist
there and the parent's spool segments stay the parent's, so the child starts with
fresh, empty state and its own threads on first use. At interpreter exit each one's
``stop_at_exit`` publishes what it holds within its own time limit; a failure there
is logged, never raised, so exit is never broken. Registration holds a weak
reference: a recorder that is garbage is not kept alive by it.
"""

from __future__ import annotations

import atexit
import logging
import os
import weakref
from typing import Protocol

log = logging.getLogger("invocation_logs")


class Background(Protocol):
    def after_fork(self) -> None: ...

    def stop_at_exit(self) -> None: ...


_live: weakref.WeakSet[Background] = weakref.WeakSet()


def track(worker: Background) -> None:
    _live.add(worker)


def _after_fork_in_child() -> None:
    for w in list(_live):
        w.after_fork()


def _stop_all() -> None:
    for w in list(_live):
        try:
            w.stop_at_exit()
        except Exception:  # pragma: no cover - never fail interpreter exit
            log.exception("invocation logs: stopping %s at exit failed", type(w).__name__)


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(_stop_all)
