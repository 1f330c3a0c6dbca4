"""Validation at the API boundary: the caller's mistakes raise ``ValueError`` at once.

Every message names the offending field, so a bad call is fixed from the error
alone. These checks run on the agent's hot path, so they are plain type and range
tests (a few hundred nanoseconds); a record that fails them never reaches the
queue, the spool or the lake, and creates no folder.
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation

from invlog.lake import COST_SCALE, STATUSES, TRIGGERS, validate_tenant
from invlog.pricing.usage import MAX_TOKENS  # usage itself is checked by invlog.pricing.check_usage

_MAX_COST_PICOS = 10**18 - 1  # decimal(18, 12): under one million dollars per row

__all__ = ["MAX_TOKENS", "check_cost", "check_optional_text", "check_status", "check_trigger", "validate_tenant"]


def check_trigger(trigger: object) -> str:
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger: expected one of {sorted(TRIGGERS)}, got {trigger!r}")
    return trigger


def check_status(status: object) -> str:
    if status not in STATUSES:
        raise ValueError(f"status: expected one of {sorted(STATUSES)}, got {status!r}")
    return status


def check_optional_text(name: str, value: object) -> str | None:
    if value is None or type(value) is str:
        return value
    raise ValueError(f"{name}: expected a string or None, got {type(value).__name__}")


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
