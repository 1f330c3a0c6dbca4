"""Prices per call, resolved once per model, instant range and tier, reused on the hot path.

:class:`PriceBook` answers "what did this call cost": the price in force for the
tenant, provider, model, service tier and batch flag at the call's instant (an
override from the overrides file, else genai-prices' data with its price
history, time-of-day windows and tier variants), applied to the call's billed
usage by a compiled :class:`~invlog.pricing.plan.Plan`. A price depends on the
instant only through its day (start dates) and the time-of-day windows of that
model, so plans are cached per (day, window): a round costs two dict lookups and
a few integer multiplications. An unknown cost is ``None`` with its reason
(``unknown_model``, ``no_price_for_unit``, ``unreadable_usage``; the caller adds
``missing_usage``), never zero. The recorder prices each round with it and the
warehouse restates stored usage with it, so both give the same digits.
"""

from __future__ import annotations

import bisect
import datetime as dt
import os
from decimal import Decimal
from typing import Any

from invlog.pricing import overrides as ov
from invlog.pricing.plan import Plan

US_PER_DAY = 86_400_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
UNKNOWN_MODEL = "unknown_model"
MISSING_USAGE = "missing_usage"
REASONS = (UNKNOWN_MODEL, MISSING_USAGE, "unreadable_usage", "no_price_for_unit")
# Our provider ids that genai-prices knows under another id.
PROVIDER_ALIASES = {"azure_openai": "azure", "bedrock": "aws", "gemini": "google", "vertex": "google",
                    "google-genai": "google", "x_ai": "x-ai", "xai": "x-ai"}
# genai-prices applies a minimum billed duration for these (ModelInfo.calc_price); always defer to it.
_SPECIAL = {("groq", "whisper-large-v3"), ("groq", "whisper-large-v3-turbo")}


def context(service_tier: str | None, batch: bool | None) -> tuple[tuple[str, str], ...]:
    """The genai-prices price context of a call, as a hashable tuple."""
    ctx = []
    if batch:
        ctx.append(("processing", "batch"))
    if service_tier:
        ctx.append(("service_tier", service_tier))
    return tuple(ctx)


def _tod_us(t: dt.time) -> int:
    if t.tzinfo is not None:
        t = dt.datetime.combine(dt.date(1970, 1, 1), t).astimezone(dt.UTC).time()
    return ((t.hour * 60 + t.minute) * 60 + t.second) * 1_000_000 + t.microsecond


class _Model:
    """What one (tenant, provider, model, context) resolves to; plans filled per (day, window)."""

    __slots__ = ("bounds", "info", "plans", "provider")

    def __init__(self, provider: Any, info: Any):
        self.provider, self.info = provider, info
        self.plans: dict[tuple[int, int], Plan | str] = {}
        bounds: set[int] = set()
        if info is not None:
            from genai_prices.types import TimeOfDateConstraint

            conds = [c.constraint for c in info.prices] if isinstance(info.prices, list) else []
            conds += [v.constraint for v in info.price_variants or ()]
            for c in conds:
                if isinstance(c, TimeOfDateConstraint):
                    bounds.update((_tod_us(c.start_time), _tod_us(c.end_time)))
        bounds.discard(0)
        self.bounds = tuple(sorted(bounds))


class PriceBook:
    """See the module docstring. ``overrides``: a TOML path (default ``INVLOG_PRICES``)."""

    def __init__(self, overrides: str | os.PathLike[str] | None = None):
        path = overrides if overrides is not None else os.environ.get(ov.ENV_PRICES) or None
        self._overrides = ov.load(path) if path else []
        self._override_keys = {(o.provider, o.model) for o in self._overrides}
        self._models: dict[tuple[Any, ...], _Model] = {}
        import genai_prices
        from genai_prices import data_snapshot

        self.version = genai_prices.__version__
        self._snapshot = data_snapshot.get_snapshot()  # load the price data now (~40 ms), not in the first run

    def price(self, tenant: str, provider: str, model: str, ctx: tuple[tuple[str, str], ...], wall_us: int,
              cols: tuple[int, ...], other: dict[str, Any] | None,
              shape: tuple[Any, ...]) -> tuple[int | None, str | None, str | None]:
        """``(picodollars, price_source, None)`` or ``(None, None, reason)``; the usage as
        ``check_usage`` returns it."""
        plan = self.plan(tenant, provider, model, ctx, wall_us)[0]
        if type(plan) is str:
            return None, None, plan
        picos, reason = plan.cost(cols, other, shape)
        return (picos, plan.source, None) if reason is None else (None, None, reason)

    def plan(self, tenant: str, provider: str, model: str, ctx: tuple[tuple[str, str], ...],
             wall_us: int) -> tuple[Plan | str, int, int]:
        """The plan in force at ``wall_us`` (or the reason there is none) and the UTC
        microsecond range ``[start, end)`` over which it stays in force."""
        key = (tenant, provider, model, ctx)
        m = self._models.get(key)
        if m is None:
            m = self._model(key)
        tod = wall_us % US_PER_DAY
        day_start = wall_us - tod
        if m.bounds:
            window = bisect.bisect_right(m.bounds, tod)
            start = day_start + (m.bounds[window - 1] if window else 0)
            end = day_start + (m.bounds[window] if window < len(m.bounds) else US_PER_DAY)
        else:
            window, start, end = 0, day_start, day_start + US_PER_DAY
        day = wall_us // US_PER_DAY
        plan = m.plans.get((day, window))
        if plan is None:
            plan = self._plan(m, key, day, window)
        return plan, start, end

    def _model(self, key: tuple[Any, ...]) -> _Model:
        _, provider, model, _ = key
        pid = PROVIDER_ALIASES.get(provider.lower(), provider.lower())
        try:
            prov, info = self._snapshot.find_provider_model(model, None, pid, None)
        except LookupError:
            prov, info = None, None
        m = _Model(prov, info)
        if len(self._models) > 10_000:
            self._models.clear()
        self._models[key] = m
        return m

    def _plan(self, m: _Model, key: tuple[Any, ...], day: int, window: int) -> Plan | str:
        tenant, provider, model, ctx_t = key
        ctx = dict(ctx_t)
        start_us = m.bounds[window - 1] if window else 0
        when = _EPOCH + dt.timedelta(microseconds=day * US_PER_DAY + start_us)  # any instant of the window
        plan: Plan | str
        chosen = None
        if (provider.lower(), model.lower()) in self._override_keys:
            chosen = ov.choose(self._overrides, tenant, provider.lower(), model.lower(), when.date(), ctx)
        if chosen is not None:
            mp = chosen.price
            plan = Plan(mp, chosen.source, lambda u: mp.calc_price(u)["total_price"])
        elif m.info is None:
            plan = UNKNOWN_MODEL
        else:
            info, prov = m.info, m.provider
            pctx = ctx or None
            # As ModelInfo.calc_price: a model found under a fallback provider ignores the context.
            own = any(x is info for x in prov.models)
            mp = info.get_prices(when, pctx if own else None)

            def reference(u: Any) -> Decimal:
                return info.calc_price(u, prov, genai_request_timestamp=when, price_context=pctx).total_price

            plan = Plan(mp, f"genai-prices {self.version}", reference,
                        always_reference=(prov.id, info.id) in _SPECIAL)
        if len(m.plans) > 1_000:
            m.plans.clear()
        m.plans[(day, window)] = plan
        return plan

    def cost_usd(self, tenant: str, provider: str, model: str, when: dt.datetime, usage: dict[str, Any] | None,
                 *, service_tier: str | None = None, batch: bool = False) -> tuple[Decimal | None, str | None]:
        """Convenience for tests and tools: ``(cost, None)`` or ``(None, reason)`` for one call."""
        from invlog.pricing.usage import check_usage

        if not usage:
            return None, MISSING_USAGE
        cols, other, shape = check_usage(usage)
        wall_us = (when - _EPOCH) // dt.timedelta(microseconds=1)
        picos, _, reason = self.price(tenant, provider, model, context(service_tier, batch), wall_us, cols, other,
                                      shape)
        return (None, reason) if picos is None else (Decimal(picos).scaleb(-12), None)
