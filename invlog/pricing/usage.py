"""Billed usage: the recorded columns, their genai-prices names, and validation.

A round's usage is what the provider billed for that call, under the design's
convention (``input_tokens`` counts every prompt token, cached or not, audio or
text; ``output_tokens`` counts reasoning and audio). Ten units have columns of
their own (:data:`COLUMNS`); any other unit genai-prices knows (image tokens,
audio seconds, code executions, ...) is kept by its genai-prices name in the
``other_usage`` JSON column, so a cost can be recomputed from the lake alone.
:func:`check_usage` runs on the agent's hot path: the common five-field dict
takes a fast path of plain type and range tests; a caller's mistake raises
``ValueError`` naming the field.
"""

from __future__ import annotations

from typing import Any

from genai_prices._usage import validate_usage_value
from genai_prices.units import _get_registry

MAX_TOKENS = 100_000_000  # a single LLM call with more than this is a bug, not a workload

COLUMNS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens",
           "cache_write_5m_tokens", "cache_write_1h_tokens", "input_audio_tokens", "output_audio_tokens",
           "web_search_requests")
CORE = COLUMNS[:5]
# genai-prices' usage key of each column (same name unless listed).
GENAI_KEY = {c: c for c in COLUMNS} | {"reasoning_tokens": "output_reasoning_tokens",
                                         "web_search_requests": "web_searches"}
_COLUMN_OF = {g: c for c, g in GENAI_KEY.items()}
_INDEX = {c: i for i, c in enumerate(COLUMNS)} | {g: i for i, g in enumerate(GENAI_KEY.values())}
_CORE = frozenset(CORE)
ZERO = (0,) * len(COLUMNS)
_ZERO_SHAPE = (False,) * 5

Usage = tuple[tuple[int, ...], dict[str, Any] | None, tuple[Any, ...]]


def _genai_keys() -> frozenset[str]:
    return _get_registry()._reported_usage_keys  # the units genai-prices prices


def _token(name: str, value: object) -> int:
    if type(value) is not int:
        raise ValueError(f"usage.{name}: expected an integer count, got {value!r}")
    if value < 0 or value > MAX_TOKENS:
        raise ValueError(f"usage.{name}: {value} is outside 0..{MAX_TOKENS}")
    return value


def check_usage(usage: dict[str, Any] | None) -> Usage:
    """``(columns, other, shape)``: the ten column values in :data:`COLUMNS` order, the
    other units, and a hashable key of which units are not zero (what a price plan
    compiles for).

    Keys are column names or genai-prices usage keys. A missing ``cache_write_tokens``
    is the sum of the 5-minute and 1-hour writes.
    """
    if not usage:
        return ZERO, None, _ZERO_SHAPE
    if type(usage) is not dict:
        raise ValueError(f"usage: expected a dict of counts, got {type(usage).__name__}")
    get = usage.get
    if _CORE.issuperset(usage):  # the five core counts only (the common case)
        i, o, cr = get("input_tokens", 0), get("output_tokens", 0), get("cache_read_tokens", 0)
        cw, r = get("cache_write_tokens", 0), get("reasoning_tokens", 0)
        if not (type(i) is int and type(o) is int and type(cr) is int and type(cw) is int and type(r) is int
                and 0 <= i <= MAX_TOKENS and 0 <= o <= MAX_TOKENS and cr >= 0 and cw >= 0 and r >= 0):
            for name, v in zip(CORE, (i, o, cr, cw, r), strict=True):
                _token(name, v)
        if cr + cw <= i and r <= o:  # the common case, checked inline
            return (i, o, cr, cw, r, 0, 0, 0, 0, 0), None, (i > 0, o > 0, cr > 0, cw > 0, r > 0)
        vals = [i, o, cr, cw, r, 0, 0, 0, 0, 0]
        other = None
    else:
        vals = [0] * len(COLUMNS)
        other = {}
        known = _genai_keys()
        for k, v in usage.items():
            idx = _INDEX.get(k)
            if idx is not None:
                vals[idx] = _token(COLUMNS[idx], v)
            elif k in known:
                try:
                    other[k] = validate_usage_value(k, v)
                except ValueError:
                    raise ValueError(f"usage.{k}: expected a finite, non-negative count, got {v!r}") from None
            else:
                raise ValueError(f"usage.{k}: unknown usage field; expected one of {', '.join(COLUMNS)} "
                                 "or a genai-prices usage key")
        other = other or None
        if vals[3] == 0:
            vals[3] = vals[5] + vals[6]
    _check_parts(vals)
    return tuple(vals), other, shape_of(vals, other)


def shape_of(cols: Any, other: dict[str, Any] | None) -> tuple[Any, ...]:
    """The shape key of any usage (equal to the fast path's key for the same nonzero units)."""
    flags = tuple(v > 0 for v in cols)
    if not other and not any(flags[5:]):
        return flags[:5]
    return flags, tuple(sorted((k, v > 0) for k, v in other.items())) if other else None


def _check_parts(v: list[int]) -> None:
    i, o, cr, cw, r, w5, w1, ia, oa = v[:9]
    if cr + cw > i:
        raise ValueError(f"usage.cache_read_tokens: cache read ({cr}) + cache write ({cw}) exceed input_tokens "
                         f"({i}); input_tokens must count every prompt token, cached or not")
    if r > o:
        raise ValueError(f"usage.reasoning_tokens: {r} exceeds output_tokens ({o}); "
                         "output_tokens must include reasoning")
    if w5 + w1 > cw:
        raise ValueError(f"usage.cache_write_5m_tokens: 5-minute ({w5}) + 1-hour ({w1}) writes exceed "
                         f"cache_write_tokens ({cw})")
    if ia > i:
        raise ValueError(f"usage.input_audio_tokens: {ia} exceeds input_tokens ({i}); input counts audio")
    if oa > o:
        raise ValueError(f"usage.output_audio_tokens: {oa} exceeds output_tokens ({o}); output counts audio")


def from_genai(usage: Any) -> dict[str, Any]:
    """A genai-prices ``Usage`` (from its extractors) as a usage dict for ``set_response``.

    A column's zero is dropped (zero and absent price the same); another unit's explicit
    zero is kept, because genai-prices reads an explicit zero differently from an absent
    value when it infers a unit that two reported ones overlap on.
    """
    out: dict[str, Any] = {}
    for k, v in usage._reported_values().items():
        col = _COLUMN_OF.get(k)
        if col is None:
            out[k] = v
        elif v:
            out[col] = v
    return out


def genai_values(cols: tuple[int, ...], other: dict[str, Any] | None) -> dict[str, Any]:
    """The counts by genai-prices usage key (what its ``Usage`` would hold)."""
    out = {GENAI_KEY[c]: v for c, v in zip(COLUMNS, cols, strict=True) if v}
    if other:
        out.update(other)  # explicit zeros included, as genai-prices' Usage would hold them
    return out


def add(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x + y for x, y in zip(a, b, strict=True))
