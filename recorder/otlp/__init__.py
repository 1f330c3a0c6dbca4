"""The OTLP/HTTP receiver: any framework's GenAI spans into the lake (``python -m recorder.otlp``).

``server`` answers ``POST /v1/traces`` as the OTLP specification says; ``decode`` reads
protobuf and JSON bodies into ``recorder.otel.spans.Span``; ``keys`` maps API keys to
tenants (the tenant comes only from the key); ``wal`` makes each accepted batch durable
(fsync) before it is acknowledged and replays it after a crash. The mapping from spans
to invocations is ``recorder.otel``'s, shared with the in-process exporter.
"""
