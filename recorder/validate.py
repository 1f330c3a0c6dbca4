"""Validation at the API boundary: the caller's mistakes raise ``ValueError`` at once.

Every message names the offending field, so a bad call is fixed from the error
alone. These checks run on the agent's hot path, so they are plain type and range
tests (a few hundred nanoseconds); a record that fails them never reaches the
queue, the spool or the lake, and creates no folder.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from invlog.lake import COST_SCALE, STATUSES, TRIGGERS, validate_tenant

# A single LLM call with more tokens than this is a bug, not a workload.
MAX_TOKENS = 100_000_000
TOKEN_FIELDS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "reasoning_tokens")
_MAX_COST_PICOS = 10**18 - 1  # decimal(18, 12): under one million dollars per row

__all__ = ["MAX_TOKENS", "TOKEN_FIELDS", "check_cost", "check_optional_text", "check_status",
           "check_trigger", "check_usage", "validate_tenant"]


def check_trigger(trigger: object) -> str:
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger: expected one of {sorted(TRIGGERS)}, got {trigger!r}")
    return trigger  # type: ignore[return-value]


def check_status(status: object) -> str:
    if status not in STATUSES:
        raise ValueError(f"status: expected one of {sorted(STATUSES)}, got {status!r}")
    return status  # type: ignore[return-value]


def check_optional_text(name: str, value: object) -> str | None:
    if value is None or type(value) is str:
        return value  # type: ignore[return-value]
    raise ValueError(f"{name}: expected a string or None, got {type(value).__name__}")


def _token(name: str, value: object) -> int:
    if type(value) is not int:
        raise ValueError(f"usage.{name}: expected an integer token count, got {value!r}")
    if value < 0 or value > MAX_TOKENS:
        raise ValueError(f"usage.{name}: {value} is outside 0..{MAX_TOKENS}")
    return value


_FIELDS = frozenset(TOKEN_FIELDS)


def check_usage(usage: dict[str, Any] | None) -> tuple[int, int, int, int, int]:
    """Normalized usage as ``(input, output, cache_read, cache_write, reasoning)``.

    The convention: input counts every prompt token (cache read and write are
    parts of it); output includes reasoning (a part of it).
    """
    if not usage:
        return (0, 0, 0, 0, 0)
    if type(usage) is not dict:
        raise ValueError(f"usage: expected a dict of token counts, got {type(usage).__name__}")
    if not _FIELDS.issuperset(usage):
        unknown = sorted(str(k) for k in usage if k not in _FIELDS)
        raise ValueError(f"usage.{unknown[0]}: unknown token field; expected {', '.join(TOKEN_FIELDS)}")
    get = usage.get
    vals = (get("input_tokens", 0), get("output_tokens", 0), get("cache_read_tokens", 0),
            get("cache_write_tokens", 0), get("reasoning_tokens", 0))
    i, o, cr, cw, r = vals
    # Fast path: five exact ints in range (bool is excluded by the type check).
    if not (type(i) is int and type(o) is int and type(cr) is int and type(cw) is int and type(r) is int
            and 0 <= i <= MAX_TOKENS and 0 <= o <= MAX_TOKENS and cr >= 0 and cw >= 0 and r >= 0):
        for name, v in zip(TOKEN_FIELDS, vals, strict=True):
            _token(name, v)
    if cr + cw > i:
        raise ValueError(
            f"usage.cache_read_tokens: cache read ({cr}) + cache write ({cw}) exceed input_tokens ({i}); "
            "input_tokens must count every prompt token, cached or not"
        )
    if r > o:
        raise ValueError(
            f"usage.reasoning_tokens: {r} exceeds output_tokens ({o}); output_tokens must include reasoning"
        )
    return vals  # type: ignore[return-value]


def check_cost(value: object) -> int:
    """A caller-supplied cost in USD as integer picodollars; NaN, infinite and negative raise."""
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise ValueError
            value = repr(value)
        d = Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, ValueError, TypeError):
        raise ValueError(f"cost_usd: expected a finite decimal amount, got {value!r}") from None
    if not d.is_finite() or d < 0:
        raise ValueError(f"cost_usd: expected a finite, non-negative amount, got {value!r}")
    picos = int(d.scaleb(COST_SCALE).to_integral_value())
    if picos > _MAX_COST_PICOS:
        raise ValueError(f"cost_usd: {value!r} is too large for one record")
    return picos
