"""OpenTelemetry GenAI spans to invocations: the mapping both ingestion paths share.

``recorder.otel.InvocationExporter`` records an app's spans in-process (it needs
``opentelemetry-sdk``); ``python -m recorder.otlp`` receives them over OTLP/HTTP. Both
turn spans into ``recorder.otel.spans.Span``, assemble each trace
(``recorder.otel.assembler``), map it (``recorder.otel.mapping``) and record it through
the recorder's low-level API (``recorder.otel.write``). docs/otel.md has the mapping.
"""

from __future__ import annotations

from typing import Any

__all__ = ["InvocationExporter"]


def __getattr__(name: str) -> Any:
    if name == "InvocationExporter":  # imported on use: the SDK is needed only by the exporter
        from recorder.otel.exporter import InvocationExporter

        return InvocationExporter
    raise AttributeError(f"module 'recorder.otel' has no attribute {name!r}")
