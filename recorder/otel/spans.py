"""One span, whichever way it arrived: the shape the mapping reads.

The receiver decodes OTLP protobuf or JSON into these (``recorder.otlp.decode``), the
in-process exporter converts the SDK's ``ReadableSpan`` (``from_sdk``); from here on
both paths are the same code, so a trace maps identically whichever way it came.
Ids are lower-case hex (32 digits for a trace, 16 for a span), times UTC epoch
nanoseconds, attribute values plain Python (str, bool, int, float, or tuples of them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OK, ERROR, UNSET = "ok", "error", "unset"


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is 2x slower, and a receiver builds 10k/s
class Span:
    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int
    end_ns: int
    status: str = UNSET  # ok | error | unset
    status_message: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: tuple[tuple[str, int, dict[str, Any]], ...] = ()  # (name, time_ns, attributes)
    resource: dict[str, Any] = field(default_factory=dict)
    # (usage, has_usage) as the mapping read it when the span was checked: read once, not twice
    usage: tuple[dict[str, int], bool] | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return self.trace_id, self.span_id


def from_sdk(span: Any) -> Span:
    """An OpenTelemetry SDK ``ReadableSpan`` (what a ``SpanExporter`` is given)."""
    ctx = span.context
    parent = span.parent
    code = span.status.status_code.name.lower() if span.status is not None else UNSET
    return Span(
        trace_id=format(ctx.trace_id, "032x"), span_id=format(ctx.span_id, "016x"),
        parent_id=format(parent.span_id, "016x") if parent is not None and parent.span_id else None,
        name=span.name or "", start_ns=int(span.start_time or 0), end_ns=int(span.end_time or span.start_time or 0),
        status=code if code in (OK, ERROR) else UNSET, status_message=span.status.description if span.status else None,
        attributes=dict(span.attributes or {}),
        events=tuple((e.name, int(e.timestamp or 0), dict(e.attributes or {})) for e in span.events),
        resource=dict(span.resource.attributes) if span.resource is not None else {},
    )
