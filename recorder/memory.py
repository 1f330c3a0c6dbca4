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
invocation tables, and the history injected later is what was stored. Failures are
logged and never break the run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any

from invlog.lake import Lake, new_part_id, validate_tenant
from recorder.redact import redact_value

log = logging.getLogger("invocation_logs")


def _slug(value: str) -> str:
    # agent names and session ids are free text: hash them into safe path segments
    return hashlib.sha256(value.encode()).hexdigest()[:24]


class MemoryStore:
    def __init__(self, lake: Lake, hook: Any = None):
        self.lake, self.hook = lake, hook
        self._cache: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def _folder(self, tenant: str, agent: str, session: str) -> str:
        validate_tenant(tenant)
        return f"_memory/tenant={tenant}/agent={_slug(agent)}/session={_slug(session)}"

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
        try:
            self.lake.put(f"{self._folder(tenant, agent, session)}/{turn['id']}.json",
                          json.dumps(turn, default=str).encode())
        except Exception as exc:
            log.warning("invocation logs: storing session memory failed: %s", exc)
