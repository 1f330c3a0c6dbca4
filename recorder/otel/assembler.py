"""Spans of many traces, in any order and with retries, to invocations recorded once.

Exporters send a trace's spans in several batches, in any order, and retry what they
think was lost. ``Assembler.add`` keeps each (tenant, trace id, span id) once; a trace
is recorded when its root span has arrived and no new span of it came for ``settle``
seconds, or, if its root never comes, ``max_wait`` seconds after its first span (with
the spans it has, marked ``incomplete``). Records are immutable, so a span that arrives
after its trace was recorded is kept as a follow-up: once that trace's late spans have
been quiet for ``settle`` seconds they are recorded as their own invocation with the
same ``trace_id``, marked ``incomplete``; no total counts a span twice, none loses one (a
retried span that was already recorded is recognised by its id and dropped). ``tick``
does the recording; ``start`` runs it on a thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from recorder.otel.mapping import check_span, map_trace
from recorder.otel.spans import Span
from recorder.otel.write import check, record

log = logging.getLogger("recorder.otel")
_DONE_TRACES = 100_000  # recorded traces remembered, to recognise retries and late spans


class _Pending:
    __slots__ = ("first", "followup", "last", "root", "spans")

    def __init__(self, now: float, followup: bool = False):
        self.spans: dict[str, Span] = {}
        self.first = self.last = now
        self.root = False
        self.followup = followup  # late spans of a trace already recorded


class Assembler:
    def __init__(self, recorder: Any, *, settle: float = 0.5, max_wait: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.recorder, self.settle, self.max_wait, self._clock = recorder, settle, max_wait, clock
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._done: OrderedDict[tuple[str, str], set[str]] = OrderedDict()  # recorded traces: their span ids
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.recorded = self.duplicates = self.late = self.refused = 0

    def add(self, tenant: str, spans: list[Span]) -> list[tuple[Span, str]]:
        """Take a batch of one tenant's spans; returns the ones refused, each with why."""
        refused, now = [], self._clock()
        with self._lock:
            for s in spans:
                try:
                    check_span(s)
                except ValueError as exc:
                    refused.append((s, str(exc)))
                    continue
                key = (tenant, s.trace_id)
                done = self._done.get(key)
                if done is not None and s.span_id in done:
                    self.duplicates += 1  # a retry of a span already recorded
                    continue
                p = self._pending.get(key)
                if p is None:
                    p = self._pending[key] = _Pending(now, followup=done is not None)
                if p.followup and s.span_id not in p.spans:
                    self.late += 1
                if s.span_id in p.spans:
                    self.duplicates += 1
                    continue
                p.spans[s.span_id] = s
                p.last = now
                p.root = p.root or s.parent_id is None
        return refused

    def settled(self, key: tuple[str, str]) -> bool:
        """Whether trace ``(tenant, trace_id)`` is no longer waiting (recorded, or refused and logged)."""
        with self._lock:
            return key not in self._pending

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def tick(self, *, force: bool = False) -> int:
        """Record every trace that is due (all of them with ``force``); returns how many invocations."""
        now = self._clock()
        with self._lock:
            due = [k for k, p in self._pending.items() if force or now - p.first >= self.max_wait
                   or ((p.root or p.followup) and now - p.last >= self.settle)]
            batches = [(k, self._pending.pop(k)) for k in due]
            for k, p in batches:
                self._done.setdefault(k, set()).update(p.spans)
                self._done.move_to_end(k)
            while len(self._done) > _DONE_TRACES:
                self._done.popitem(last=False)
        n = 0
        for (tenant, trace_id), p in batches:
            try:
                drafts = map_trace(list(p.spans.values()))
                for d in drafts:
                    d.incomplete = p.followup or not p.root
                    check(tenant, d)
            except (ValueError, TypeError) as exc:
                self.refused += 1
                log.warning("trace %s of tenant %s not recorded: %s", trace_id, tenant, exc)
                continue
            for d in drafts:
                record(self.recorder, tenant, d)
                n += 1
        self.recorded += n
        return n

    def start(self, every: float = 0.1) -> None:
        def run() -> None:
            while not self._stop.wait(every):
                try:
                    self.tick()
                except Exception:  # never let the ticker die: log and keep assembling
                    log.exception("assembling spans failed")

        self._thread = threading.Thread(target=run, name="invlog-otel-assembler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self.tick(force=True)
