"""``InvocationExporter``: an OpenTelemetry ``SpanExporter`` that records GenAI spans in-process.

For apps that already configure OpenTelemetry (a ``TracerProvider``, or
``logfire.configure(additional_span_processors=[BatchSpanProcessor(exporter)])``):
the spans go through the same mapping as the OTLP receiver's (``recorder.otel``), with
no server. The tenant is the exporter's, never a span attribute. ``export`` only
hands spans to the assembler (microseconds); the assembler's thread records a trace
once its root span has ended and settled; ``force_flush`` and ``shutdown`` record
what is pending.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from invlog.lake import validate_tenant
from recorder.otel.assembler import Assembler, log
from recorder.otel.spans import from_sdk


class InvocationExporter(SpanExporter):
    def __init__(self, *, recorder: Any, tenant: str, settle: float = 0.5, max_wait: float = 30.0):
        validate_tenant(tenant)
        self.tenant = tenant
        self.assembler = Assembler(recorder, settle=settle, max_wait=max_wait)
        self.assembler.start()

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        try:
            refused = self.assembler.add(self.tenant, [from_sdk(s) for s in spans])
        except Exception:  # an exporter must not raise into the app's span processor
            log.exception("InvocationExporter: spans not taken")
            return SpanExportResult.FAILURE
        for span, why in refused:
            log.warning("span %s refused: %s", span.span_id, why)
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        self.assembler.tick(force=True)
        return True

    def shutdown(self) -> None:
        self.assembler.stop()
