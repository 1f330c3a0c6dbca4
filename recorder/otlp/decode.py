"""OTLP trace bodies (protobuf or JSON, gzip or not) to ``Span`` lists, with the limits that keep a bad body
from costing more than a refusal.

``read_body`` undoes ``Content-Encoding: gzip`` with a cap on the inflated size (a gzip
bomb is refused as too large, not inflated); ``decode`` parses the body with
opentelemetry-proto's generated classes (JSON via protobuf's own ``json_format``, with
the OTLP/JSON rule that ids are hex, not base64) and flattens resource and span
attributes to Python values. Raises ``BodyError`` (HTTP 400) or ``TooLarge`` (413).
"""

from __future__ import annotations

import base64
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from recorder.otel.spans import ERROR, OK, UNSET, Span

MAX_DEPTH = 8  # nested array/kvlist values deeper than this are refused


class BodyError(ValueError):
    pass


class TooLarge(ValueError):
    pass


def read_body(raw: bytes, encoding: str | None, limit: int) -> bytes:
    if not encoding or encoding == "identity":
        return raw
    if encoding != "gzip":
        raise BodyError(f"Content-Encoding {encoding!r} is not supported (gzip or none)")
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = d.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise BodyError(f"gzip body cannot be read: {exc}") from None
    if len(out) > limit or d.unconsumed_tail:
        raise TooLarge(f"the body inflates past {limit:,} bytes")
    if not d.eof:
        raise BodyError("gzip body is truncated")
    return out


def _hex_to_b64(obj: Any) -> Any:
    """OTLP/JSON writes traceId/spanId/parentSpanId as hex; protobuf's JSON reader expects base64."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                try:
                    out[k] = base64.b64encode(bytes.fromhex(v)).decode() if v else ""
                except ValueError:
                    raise BodyError(f"{k}: expected hex, got {v[:40]!r}") from None
            else:
                out[k] = _hex_to_b64(v)
        return out
    if isinstance(obj, list):
        return [_hex_to_b64(v) for v in obj]
    return obj


def parse(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    req = ExportTraceServiceRequest()
    ctype = content_type.split(";")[0].strip().lower()
    if ctype == "application/x-protobuf":
        try:
            req.ParseFromString(body)
        except (DecodeError, RecursionError) as exc:
            raise BodyError(f"protobuf body cannot be parsed: {exc}") from None
    elif ctype == "application/json":
        try:
            json_format.ParseDict(_hex_to_b64(json.loads(body)), req, ignore_unknown_fields=True)
        except (ValueError, json_format.ParseError, RecursionError) as exc:
            raise BodyError(f"JSON body cannot be parsed: {str(exc)[:200]}") from None
    else:
        raise BodyError(f"Content-Type {content_type!r} is not supported "
                        "(application/x-protobuf or application/json)")
    return req


def value(v: Any, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise BodyError("attribute values nest too deeply")
    which = v.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return tuple(value(x, depth + 1) for x in v.array_value.values)
    if which == "kvlist_value":
        return json.dumps({kv.key: value(kv.value, depth + 1) for kv in v.kvlist_value.values}, default=str)
    if which == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    return getattr(v, which)


def attributes(kvs: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in kvs:  # the common scalar cases inline: this loop is most of a request's decoding time
        v = kv.value
        which = v.WhichOneof("value")
        if which == "string_value":
            out[kv.key] = v.string_value
        elif which == "int_value":
            out[kv.key] = v.int_value
        else:
            out[kv.key] = value(v)
    return out


def spans(req: ExportTraceServiceRequest) -> list[Span]:
    out: list[Span] = []
    add = out.append
    for rs in req.resource_spans:
        resource = attributes(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:  # positional and flat: this loop runs for every span the receiver takes
                st = s.status
                code = st.code
                ev = s.events
                add(Span(s.trace_id.hex(), s.span_id.hex(), s.parent_span_id.hex() or None, s.name,
                         s.start_time_unix_nano, s.end_time_unix_nano,
                         ERROR if code == 2 else OK if code == 1 else UNSET, st.message or None,
                         attributes(s.attributes),
                         tuple((e.name, e.time_unix_nano, attributes(e.attributes)) for e in ev) if ev else (),
                         resource))
    return out
