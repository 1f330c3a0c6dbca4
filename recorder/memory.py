"""Short-term memory for agent sessions, kept beside the lake so it survives restarts.

Each finished turn (the user's message and the agent's answer) is one small JSON
object under ``<lake>/_memory/tenant=<t>/agent=<a>/session=<s>/<turn-id>.json``
(the ``_`` prefix hides it from Hive-style readers). Why not read the prior turns
back from the invocation tables? The next turn needs them at once and exactly,
while the lake is written asynchronously and compacted; one object per turn is
durable on both a local folder and S3 (no appends) and is read once per session
per process, then cached. A turn goes through the same redaction as the tables (the
recorder's ``redact`` hook, then the built-in masking of credentials) before it is
stored or cached, so a key a user typed is masked in memory as it is in the
invocation tables, and the history injected later is what was stored. Storing is
off the agent's thread (``MemoryWriter``): a turn is cached at once, so the next turn
of the session in this process sees it, and queued; a thread of the recorder writes it
to the spool folder (fsync), then to the lake, then deletes the spooled copy, so a slow
or stalled bucket never holds a run, and a turn spooled before a crash or an outage is
stored by the next recorder on that spool. ``Recorder.flush`` and ``shutdown`` wait for
the queue. Failures are logged and counted and never break the run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections import deque
from typing import Any

from invlog.lake import Lake, new_part_id, validate_tenant
from invlog.lake.layout import tenant_path
from recorder import lifecycle
from recorder.redact import redact_text, redact_value

log = logging.getLogger("invocation_logs")


def _slug(value: str) -> str:
    # agent names and session ids are free text: hash them into safe path segments
    return hashlib.sha256(value.encode()).hexdigest()[:24]


class MemoryWriter:
    """Stores memory turns in the lake on a thread of its own, write-ahead through the spool folder."""

    def __init__(self, lake: Lake, spool_dir: str):
        self.lake = lake
        self.folder = os.path.join(spool_dir, "memory")
        self.errors = 0  # failed attempts to store a turn (each is retried)
        self._init()
        lifecycle.track(self)
        if self._spooled():  # what an earlier process (or an outage) left: stored from now on
            self._start()

    def _init(self) -> None:
        self._queue: deque[tuple[str, bytes]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._busy = False
        self._unspooled = False  # the turn in hand is not in the spool folder yet
        self._stopping = False
        self._backoff = 0.0
        self._retry_now = True
        self._last_log = -1e9

    def _start(self) -> None:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="invocation-logs-memory", daemon=True)
                self._thread.start()

    def put(self, rel: str, data: bytes) -> None:
        """Queue one object for the lake; returns at once."""
        self._start()
        with self._cond:
            self._queue.append((rel, data))
            self._cond.notify_all()

    def pending(self) -> int:
        """Turns queued or spooled and not yet in the lake."""
        with self._cond:
            queued = len(self._queue) + self._unspooled
        return queued + len(self._spooled())

    def drain(self, timeout: float) -> bool:
        """Wait until every turn queued or spooled is in the lake; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._thread is None:
                return not self._queue and not self._spooled()
            self._retry_now = True  # a spooled turn is retried now, not at the end of its backoff
            self._cond.notify_all()
            while self._queue or self._busy or self._spooled():
                left = deadline - time.monotonic()
                if left <= 0 or not self._thread.is_alive():
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def after_fork(self) -> None:
        self._init()  # the parent's thread is not in the child; the queue is the parent's to store

    def stop_at_exit(self) -> None:
        self.close(timeout=5.0)

    def close(self, timeout: float) -> bool:
        ok = self.drain(timeout)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        return ok

    def _spooled(self) -> list[str]:
        try:
            return sorted(n for n in os.listdir(self.folder) if n.endswith(".json"))
        except FileNotFoundError:
            return []

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._stopping and not self._retry_now:
                    if not self._cond.wait(max(self._backoff, 1.0) if self._spooled() else None):
                        self._retry_now = True  # the backoff is over: retry the spooled ones
                if self._stopping and not self._queue:
                    return
                item = self._queue.popleft() if self._queue else None
                if item is None:
                    self._retry_now = False
                self._busy = True
                self._unspooled = item is not None
            try:
                if item is not None:
                    self._store(*item)
                else:
                    self._retry_spooled()
            except Exception as exc:  # a bug here must not kill the thread
                self._warn("invocation logs: storing session memory failed: %s", exc)
            finally:
                with self._cond:
                    self._busy = self._unspooled = False
                    self._cond.notify_all()

    def _store(self, rel: str, data: bytes) -> None:
        name = f"{new_part_id()}.json"
        try:  # write-ahead: on local disk (fsync) before the lake, as the tables are spooled
            os.makedirs(self.folder, exist_ok=True)
            tmp = os.path.join(self.folder, name + ".tmp")
            with open(tmp, "wb") as f:
                f.write(json.dumps({"rel": rel, "data": data.decode()}).encode())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, os.path.join(self.folder, name))
            self._unspooled = False
        except OSError as exc:  # a full or read-only disk: straight to the lake
            self._warn("invocation logs: spooling session memory failed (%s); storing it directly", exc)
            name = ""
        if self._put(rel, data) and name:
            os.unlink(os.path.join(self.folder, name))

    def _put(self, rel: str, data: bytes) -> bool:
        try:
            self.lake.put(rel, data)
        except Exception as exc:
            self.errors += 1
            self._backoff = min(max(self._backoff * 2, 1.0), 30.0)
            self._warn("invocation logs: storing session memory failed (%s); kept in the spool and retried", exc)
            return False
        self._backoff = 0.0
        return True

    def _retry_spooled(self) -> None:
        for name in self._spooled():
            path = os.path.join(self.folder, name)
            try:
                with open(path, "rb") as f:
                    item = json.loads(f.read())
            except (OSError, ValueError):
                continue  # another recorder on this spool took it, or a torn write (its .tmp never renamed)
            if not self._put(item["rel"], item["data"].encode()):
                return
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass

    def _warn(self, msg: str, *args: Any) -> None:
        now = time.monotonic()
        if now - self._last_log >= 10.0:
            self._last_log = now
            log.warning("%s", redact_text(msg % args))


class MemoryStore:
    """The sessions' turns: read from the lake once per session, cached, appended through the writer."""

    def __init__(self, lake: Lake, hook: Any = None, writer: MemoryWriter | None = None):
        self.lake, self.hook, self.writer = lake, hook, writer
        self._cache: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _folder(self, tenant: str, agent: str, session: str) -> str:
        validate_tenant(tenant)
        return f"{tenant_path('_memory', tenant)}/agent={_slug(agent)}/session={_slug(session)}"

    def turns(self, tenant: str, agent: str, session: str) -> list[dict[str, Any]]:
        key = (tenant, agent, session)
        with self._lock:
            if key in self._cache:
                return list(self._cache[key])
        turns: list[dict[str, Any]] = []
        try:
            for rel in self.lake.find(self._folder(tenant, agent, session)):
                if rel.endswith(".json"):
                    turns.append(json.loads(self.lake.read(rel)))
        except Exception as exc:  # memory is best effort; the run goes on without history
            log.warning("invocation logs: reading session memory failed: %s", exc)
        turns.sort(key=lambda t: t["id"])
        with self._lock:
            self._cache.setdefault(key, turns)
            return list(self._cache[key])

    def _redacted(self, turn: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for k, v in turn.items():
            if self.hook is not None and isinstance(v, str) and k in ("user", "assistant"):
                v = self.hook("memory_context", v)  # the field the injected turns are recorded in
            out[k] = redact_value(v)
        return out

    def append(self, tenant: str, agent: str, session: str, turn: dict[str, Any]) -> None:
        turn = {"id": new_part_id(), **self._redacted(turn)}
        key = (tenant, agent, session)
        self.turns(tenant, agent, session)  # make sure the cache holds what was stored before
        with self._lock:
            self._cache[key].append(turn)
        rel = f"{self._folder(tenant, agent, session)}/{turn['id']}.json"
        data = json.dumps(turn, default=str).encode()
        if self.writer is not None:
            self.writer.put(rel, data)
            return
        try:
            self.lake.put(rel, data)
        except Exception as exc:
            log.warning("invocation logs: storing session memory failed: %s", exc)
