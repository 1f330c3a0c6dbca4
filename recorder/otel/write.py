"""Record a mapped trace through the recorder's own low-level API, at the spans' own times.

Each ``InvocationDraft`` (``recorder.otel.mapping``) becomes ``rec.invocation(...)`` with
one ``inv.round(...)`` per model call, on a clock that stands at each span's start and
end: the run is priced by our pricing (the recorder's price book) at the model call's
start instant, and its latency is the span's. Everything is validated before the first
record is opened (``check``), so a trace with bad input is refused whole: nothing of it
is stored. A cost the emitter reported is kept as ``reported_cost_usd`` beside ours.
"""

from __future__ import annotations

from typing import Any

from invlog.lake import validate_tenant
from recorder.otel.mapping import InvocationDraft
from recorder.validate import check_cost, check_optional_text, check_trigger


class SpanClock:
    """A clock that stands where it is put (``at``); monotonic time is wall time, so durations are the spans'."""

    __slots__ = ("_us",)

    def __init__(self, us: int = 0):
        self._us = us

    def at(self, ns: int) -> None:
        self._us = ns // 1000

    def wall_us(self) -> int:
        return self._us

    def mono_ns(self) -> int:
        return self._us * 1000


def check(tenant: str, draft: InvocationDraft) -> None:
    """Raise ``ValueError`` naming what is wrong, before anything is recorded."""
    validate_tenant(tenant)
    check_trigger(draft.trigger)
    for name in ("user_id", "task_id", "session_id", "prompt_name", "prompt_version"):
        check_optional_text(name, getattr(draft, name))
    for r in draft.rounds:  # token counts were checked span by span as they arrived (mapping.check_span)
        if r.reported_cost is not None:
            check_cost(r.reported_cost)
        if r.span.end_ns < r.span.start_ns:
            raise ValueError(f"span {r.span.span_id}: ends before it starts")


def record(rec: Any, tenant: str, draft: InvocationDraft) -> str:
    """Record one invocation; returns its id. Call ``check`` first (the ingestion paths do)."""
    clock = SpanClock()
    root = draft.root
    start = min([root.start_ns, *(r.span.start_ns for r in draft.rounds)])
    end = max([root.end_ns, *(r.span.end_ns for r in draft.rounds)])
    clock.at(start)
    with rec.invocation(tenant=tenant, agent=draft.agent, provider=draft.provider, model=draft.model,
                        trigger=draft.trigger, user_id=draft.user_id, task_id=draft.task_id,
                        session_id=draft.session_id, prompt_name=draft.prompt_name,
                        prompt_version=draft.prompt_version, system_prompt=draft.system_prompt,
                        user_message=draft.user_message, variables=draft.variables, clock=clock) as inv:
        for r in draft.rounds:
            clock.at(r.span.start_ns)
            with inv.round(r.messages, request_params=r.request_params, model=r.model) as rnd:
                clock.at(r.span.end_ns)
                rnd.set_response(r.text, tool_calls=r.tool_calls, stop_reason=r.stop_reason,
                                 usage=r.usage if r.has_usage else None, ttft_ms=r.ttft_ms,
                                 reported_cost_usd=r.reported_cost)
                if r.status != "Success":
                    rnd.status, rnd.error_type, rnd.error_message = r.status, r.error_type, r.error_message
        inv.response = draft.response
        inv.trace_id, inv.incomplete = draft.trace_id, draft.incomplete
        if draft.status == "Timeout":
            inv.mark_timeout(draft.error_message)
        elif draft.status == "Failed":
            inv.mark_failed(draft.error_type or "Error", draft.error_message)
        clock.at(end)
    return str(inv.invocation_id)
