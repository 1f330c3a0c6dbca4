"""One resolved price, compiled: exact integer picodollar arithmetic over genai-prices' rules.

genai-prices prices a ``Usage`` by splitting it into leaf units (input tokens
minus the cached, audio, ... parts that have prices of their own, each priced
once) and summing ``count * price / per``; it costs 100-200 us a call here. A
:class:`Plan` holds one ``ModelPrice`` (a model at one instant and service tier,
or an override) and compiles, per set of reported units, the same leaf
subtraction in genai-prices' own order with each price as integer picodollars
per unit (a ``Decimal`` only when a price is finer than that). The first time a
set of units is seen, the result is checked against genai-prices' own
calculation on that usage; a shape where they differ (a provider's special rule,
an inference genai-prices makes) is priced by genai-prices every time. So the
recorded cost always equals genai-prices' price, rounded half-even to 12 places.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from genai_prices.types import TieredPrices, Usage, _collect_resolved_model_prices
from genai_prices.units import _get_registry

from invlog.pricing.usage import COLUMNS, GENAI_KEY

_PICO = Decimal(10) ** 12
_COL_INDEX = {GENAI_KEY[c]: i for i, c in enumerate(COLUMNS)}
UNREADABLE = "unreadable_usage"
NO_PRICE = "no_price_for_unit"


def _picos(price: Decimal, per: int) -> int | Decimal:
    p = price * _PICO / per
    return int(p) if p == p.to_integral_value() else p


def to_picos(total: Decimal) -> int:
    return int(total.scaleb(12).to_integral_value(rounding=ROUND_HALF_EVEN))


class Plan:
    """Prices usage with one ``ModelPrice``; see the module docstring."""

    __slots__ = ("_genai", "_programs", "_reference", "_tiers", "_units", "fingerprint", "source")

    def __init__(self, model_price: Any, source: str, reference: Callable[[Usage], Decimal],
                 always_reference: bool = False):
        reg = _get_registry()
        resolved = _collect_resolved_model_prices(model_price, reg)
        # genai-prices' own order: most specific units first, then by name.
        self._units = sorted(resolved, key=lambda up: (-len(up[0].dimensions), up[0].usage_key))
        starts = sorted({t.start for _, p in resolved if isinstance(p, TieredPrices) for t in p.tiers})
        self._tiers = tuple(starts)
        self._programs: dict[Any, Any] = {}
        self._reference = reference
        self._genai = always_reference
        self.source = source
        # Equal for two plans that price every usage alike (the same prices, unit by unit, from the same
        # source), so a caller pricing many days may price a usage once; a plan priced through genai-prices'
        # own calculation at its instant (always_reference) is equal only to itself.
        self.fingerprint: tuple[Any, ...] = (("self", id(self)) if always_reference else
                                             (source, *((u.usage_key, repr(p)) for u, p in self._units)))

    def _rate(self, price: Any, per: int, tier: int) -> int | Decimal:
        if not isinstance(price, TieredPrices):
            return _picos(price, per)
        total_input = self._tiers[tier - 1] + 1 if tier else 0  # any input inside the tier's range
        chosen = price.base
        for t in reversed(price.tiers):
            if total_input > t.start:
                chosen = t.price
                break
        return _picos(chosen, per)

    def _compile(self, keys: frozenset[str]) -> Any:
        reg = _get_registry()
        units = reg.units
        if not self._units:
            return ()  # genai-prices' free models carry no price at all: every unit costs $0
        # A reported unit with no price on itself or an ancestor: genai-prices would drop it ($0).
        for k in keys:
            if not any(u.dimensions.items() <= units[k].dimensions.items() for u, _ in self._units):
                return NO_PRICE
        steps = []
        relevant = [(u, p) for u, p in self._units if u.usage_key == "requests" or any(
            u.dimensions.items() <= units[k].dimensions.items() for k in keys)]
        for n, (u, price) in enumerate(relevant):
            desc = tuple(j for j, (d, _) in enumerate(relevant[:n])
                         if d is not u and u.dimensions.items() <= d.dimensions.items() and d.usage_key != "requests")
            rates = tuple(self._rate(price, u.per, t) for t in range(len(self._tiers) + 1))
            src = "requests" if u.usage_key == "requests" else _COL_INDEX.get(u.usage_key, u.usage_key)
            steps.append((src, desc, rates, u.usage_key in keys or src == "requests"))
        return tuple(steps)

    def cost(self, cols: tuple[int, ...], other: dict[str, Any] | None,
             shape: tuple[Any, ...]) -> tuple[int | None, str | None]:
        """``(picodollars, None)``, or ``(None, reason)`` when the usage cannot be priced.

        ``cols``, ``other`` and ``shape`` are what ``invlog.pricing.check_usage`` returns.
        """
        run = self._programs.get(shape)
        if run is None:
            run = self._first(shape, cols, other)
        return run(cols, other)

    def _function(self, steps: Any) -> Callable[..., tuple[int | None, str | None]]:
        """The steps as one straight-line Python function: the hot path runs no loop.

        The generated text holds only indices and names; every price is a bound constant.
        """
        names: dict[str, Any] = {"_round": _round_picos, "_num": _num, "_BAD": (None, UNREADABLE)}
        lines = ["def run(c, o):"]
        if self._tiers:
            names["_T"] = self._tiers
            lines.append("    i = c[0]")
            lines.append("    t = " + " + ".join(f"(i > _T[{k}])" for k in range(len(self._tiers))))
        terms, exact = [], True
        for n, (src, desc, rates, reported) in enumerate(steps):
            if src == "requests":
                v = "1"
            elif not reported:
                v = "0"
            elif type(src) is int:
                v = f"c[{src}]"
            else:
                names[f"_k{n}"] = src
                v = f"_num(o[_k{n}])"
            if desc:
                v += "".join(f" - l{j}" for j in desc)
            lines.append(f"    l{n} = {v}")
            if desc:
                lines.append(f"    if l{n} < 0: return _BAD")
            names[f"_r{n}"] = rates
            exact = exact and all(type(r) is int for r in rates)
            terms.append(f"l{n} * _r{n}[{'t' if self._tiers else 0}]")
        total = " + ".join(terms) or "0"
        lines.append(f"    return ({total}, None)" if exact else f"    return (_round({total}), None)")
        exec(compile("\n".join(lines), "<invlog price plan>", "exec"), names)
        return names["run"]

    def _usage(self, cols: tuple[int, ...], other: dict[str, Any] | None) -> Usage:
        values = {GENAI_KEY[c]: v for c, v in zip(COLUMNS, cols, strict=True) if v}
        if other:
            values.update(other)
        return Usage(**values)

    def _by_reference(self, cols: tuple[int, ...], other: dict[str, Any] | None) -> tuple[int | None, str | None]:
        try:
            return to_picos(self._reference(self._usage(cols, other))), None
        except ValueError:
            return None, UNREADABLE

    def _first(self, shape: Any, cols: tuple[int, ...], other: dict[str, Any] | None) -> Any:
        keys = frozenset(GENAI_KEY[c] for c, v in zip(COLUMNS, cols, strict=True) if v) | frozenset(
            k for k, v in (other or {}).items() if v)
        steps = self._compile(keys)
        run: Any
        if steps == NO_PRICE:
            run = _no_price
        elif self._genai:
            run = self._by_reference
        else:
            run = self._function(steps)
            # Checked once per shape: any difference (a special rule, an inference) hands the shape
            # to genai-prices for good. Both failing on a negative leaf is a property of these values.
            if run(cols, other) != self._by_reference(cols, other):
                run = self._by_reference
        if len(self._programs) < 256:
            self._programs[shape] = run
        return run


def _no_price(cols: Any, other: Any) -> tuple[None, str]:
    return None, NO_PRICE


def _round_picos(total: Any) -> int:
    return int(Decimal(total).to_integral_value(rounding=ROUND_HALF_EVEN))


def _num(v: Any) -> Any:
    return Decimal(repr(v)) if type(v) is float else v  # as genai-prices reads a float count
