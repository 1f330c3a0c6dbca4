"""Rows to Arrow tables, on the flusher thread: redact, JSON-encode, cap, type.

The hot path queues plain tuples in schema order holding Python values (ints for
timestamps, days and picodollar costs; dicts and lists for JSON fields). This
module turns a batch of them into one Arrow table per lake table, column by
column (4-6x faster than ``Table.from_pylist`` over dicts). Secrets are masked
here (see ``redact``), and a text field longer than ``max_field_bytes`` is cut,
with its original length and SHA-256 kept in the ``truncated`` column. JSON is
written by orjson (10x the stdlib here); NaN and infinities become ``null``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from invlog.lake import COST_TYPE, JSON_COLUMNS, TABLES
from recorder.redact import Hook, needs_redaction, redact_text, redact_value

# Short identifier-like columns: validated or produced by us, not free text.
_PLAIN = frozenset({
    "invocation_id", "tenant", "agent", "provider", "model", "trigger", "status", "stop_reason",
    "price_source", "error_type", "service_tier", "unpriced_reason", "user_id", "task_id", "session_id",
    "prompt_name", "prompt_version", "trace_id",
})
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str, allow_nan=False).encode
_OPTS = orjson.OPT_NON_STR_KEYS


def picos_to_decimal(values: Sequence[int | None]) -> pa.Array:
    """Integer picodollars to ``decimal(18, 12)`` without a Python ``Decimal`` per value."""
    n = len(values)
    mask = np.fromiter((v is None for v in values), dtype=bool, count=n)
    ints = np.fromiter((0 if v is None else v for v in values), dtype=np.int64, count=n)
    words = np.empty((n, 2), dtype=np.int64)
    words[:, 0] = ints  # little-endian 128-bit: low word, then the sign extension
    words[:, 1] = ints >> 63
    validity = pa.array(~mask).buffers()[1] if mask.any() else None
    return pa.Array.from_buffers(COST_TYPE, n, [validity, pa.py_buffer(words.tobytes())],
                                 null_count=int(mask.sum()))


def _json(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return orjson.dumps(value, default=str, option=_OPTS).decode()
    except (orjson.JSONEncodeError, TypeError, ValueError, RecursionError):
        # Too deep, lone surrogates, integers past 64 bits: clean up and use the stdlib.
        return _dumps(_clean(value, 0))


def _clean(value: Any, depth: int) -> Any:
    if depth > 64:
        return "[TRUNCATED: nested deeper than 64 levels]"
    if isinstance(value, dict):
        return {str(k): _clean(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v, depth + 1) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def _utf8(values: list[str | None]) -> pa.Array:
    try:
        return pa.array(values, pa.string())
    except (UnicodeEncodeError, pa.ArrowException):
        fixed = [None if v is None else v.encode("utf-8", "replace").decode("utf-8") for v in values]
        return pa.array(fixed, pa.string())


class Encoder:
    """Builds Arrow tables from queued rows; counts truncations."""

    def __init__(self, *, max_field_bytes: int = 1 << 20, hook: Hook | None = None):
        if max_field_bytes < 1024:
            raise ValueError("max_field_bytes: must be at least 1024")
        self.max_field_bytes = max_field_bytes
        self.hook = hook
        self.truncated_fields = 0

    def _cap(self, s: str, name: str, row: int, notes: dict[int, dict[str, Any]]) -> str:
        cap = self.max_field_bytes
        if len(s) * 4 <= cap:  # cannot be over the cap even in 4-byte characters
            return s
        raw = s.encode("utf-8", "replace")
        if len(raw) <= cap:
            return s
        self.truncated_fields += 1
        notes.setdefault(row, {})[name] = {"length": len(raw), "sha256": hashlib.sha256(raw).hexdigest()}
        return raw[:cap].decode("utf-8", "ignore")

    def _capped(self, name: str, vals: list[str | None], notes: dict[int, dict[str, Any]]) -> list[str | None]:
        present = [v for v in vals if v is not None]
        if present and max(map(len, present)) * 4 > self.max_field_bytes:
            return [None if v is None else self._cap(v, name, r, notes) for r, v in enumerate(vals)]
        return vals

    def _json_column(self, name: str, col: Sequence[Any], notes: dict[int, dict[str, Any]]) -> pa.Array:
        vals = list(col)  # keeps the hook's outputs alive while their ids are memo keys
        # Per column: a hook's outputs die with ``vals``, so an id must not outlive this call.
        memo: set[int] = set()  # ids of message dicts found clean
        if self.hook is not None:
            vals = [None if v is None else self.hook(name, v) for v in vals]
        out = [None if v is None else _json(redact_value(v) if _dirty(v, memo) else v) for v in vals]
        return _utf8(self._capped(name, out, notes))

    def _text_column(self, name: str, col: Sequence[Any], notes: dict[int, dict[str, Any]]) -> pa.Array:
        vals = [v if v is None or type(v) is str else str(v) for v in col]
        if self.hook is not None:
            vals = [None if v is None else self.hook(name, v) for v in vals]
        vals = self._capped(name, vals, notes)  # cap first: a 100 MiB prompt is never scanned whole
        present = [v for v in vals if v is not None]
        if present:
            # One scan over the whole column (C speed); per-value redaction only when it finds something.
            blob = "\x00".join(present)
            if redact_text(blob) != blob:
                vals = [None if v is None else redact_text(v) for v in vals]
        return _utf8(vals)

    def table(self, table: str, rows: Sequence[tuple[Any, ...]]) -> pa.Table:
        schema = TABLES[table]
        json_cols = JSON_COLUMNS[table]
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
        notes: dict[int, dict[str, Any]] = {}
        arrays: list[pa.Array | None] = []
        for field, col in zip(schema, columns, strict=True):
            name = field.name
            if name == "truncated":
                arrays.append(None)  # filled in once every other column is capped
            elif field.type == COST_TYPE:
                arrays.append(picos_to_decimal(col))
            elif name in json_cols:
                arrays.append(self._json_column(name, col, notes))
            elif field.type == pa.string():
                arrays.append(_utf8(list(col)) if name in _PLAIN else self._text_column(name, col, notes))
            else:
                arrays.append(pa.array(col, field.type))
        idx = schema.get_field_index("truncated")
        arrays[idx] = pa.array([_json(notes.get(r)) for r in range(len(rows))], pa.string())
        return pa.Table.from_arrays(arrays, schema=schema)


def _dirty(value: Any, memo: set[int]) -> bool:
    """``needs_redaction`` with the elements of a list memoised by identity within a batch.

    An agent sends round N the same message dicts as round N-1 plus new ones, so each
    message is inspected once per batch instead of once per round.
    """
    if type(value) is not list:
        return needs_redaction(value)
    for x in value:
        if type(x) is dict:
            key = id(x)
            if key in memo:
                continue
            if needs_redaction(x):
                return True
            memo.add(key)
        elif needs_redaction(x):
            return True
    return False
