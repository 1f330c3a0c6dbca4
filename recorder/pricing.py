"""Prices per provider and model, resolved once and reused on the hot path.

Prices come from ``genai-prices`` at the request's time (with cache read and write
prices and long-context tiers), or from an overrides file (negotiated prices,
fine-tuned models) keyed by provider, model and optionally tenant. A model's prices
are resolved once per (tenant, provider, model, UTC day) into integer picodollars
per token, so pricing a round is a dict lookup and four integer multiplications;
``genai_prices.calc_price`` costs about 100-200 us a call and would dominate the
hot path. An unknown model resolves to ``None``: the round is recorded unpriced
with a null cost, never as $0.

Overrides file (TOML, path from ``Recorder(prices=...)`` or ``INVLOG_PRICES``)::

    [[price]]
    provider = "openai"
    model = "ft:gpt-4o:acme"
    tenant = "acme"            # optional: applies to this tenant only
    input_mtok = "3.75"        # USD per million tokens, as strings for exactness
    output_mtok = "15"
    cache_read_mtok = "1.875"  # optional, defaults to input_mtok
    cache_write_mtok = "3.75"  # optional, defaults to input_mtok
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

ENV_PRICES = "INVLOG_PRICES"
_PICO_PER_MTOK = Decimal(10**6)  # $1 per million tokens = 10**6 picodollars per token
_PROVIDER_ALIASES = {"azure_openai": "azure", "bedrock": "aws", "gemini": "google", "vertex": "google"}


@dataclass(frozen=True, slots=True)
class Price:
    """Picodollars per token for (input, cache_read, cache_write, output), with tiers.

    ``tiers`` is a tuple of (input_token_threshold, rates), highest threshold first:
    when a call's total input exceeds the threshold, all its tokens use those rates
    (the "cliff" model providers use for long context).
    """

    rates: tuple[Any, ...]  # ints when exact, else Decimals
    tiers: tuple[tuple[int, tuple[Any, ...]], ...]
    source: str
    exact: bool  # every rate is a whole number of picodollars: integer arithmetic suffices

    def cost_picos(self, i: int, o: int, cr: int, cw: int) -> int:
        rates = self.rates
        for threshold, tier_rates in self.tiers:
            if i > threshold:
                rates = tier_rates
                break
        p_in, p_cr, p_cw, p_out = rates
        uncached = i - cr - cw
        if self.exact:
            return int(uncached * p_in + cr * p_cr + cw * p_cw + o * p_out)
        total = uncached * p_in + cr * p_cr + cw * p_cw + o * p_out
        return int(total.to_integral_value(rounding=ROUND_HALF_EVEN))


def _rates(input_mtok: Any, output_mtok: Any, cache_read_mtok: Any, cache_write_mtok: Any) -> tuple[Decimal, ...]:
    inp = Decimal(str(input_mtok or 0))
    out = Decimal(str(output_mtok or 0))
    cr = Decimal(str(cache_read_mtok)) if cache_read_mtok is not None else inp
    cw = Decimal(str(cache_write_mtok)) if cache_write_mtok is not None else inp
    return tuple(x * _PICO_PER_MTOK for x in (inp, cr, cw, out))


def _make_price(rates: tuple[Decimal, ...], tiers: list[tuple[int, tuple[Decimal, ...]]], source: str) -> Price:
    all_rates = list(rates) + [r for _, t in tiers for r in t]
    exact = all(r == r.to_integral_value() for r in all_rates)
    def conv(rs: tuple[Decimal, ...]) -> tuple[Any, ...]:
        return tuple(int(r) for r in rs) if exact else tuple(rs)  # plain ints: ~10x faster arithmetic

    rates = conv(rates)
    tiers_sorted = tuple(sorted(((t, conv(tuple(r))) for t, r in tiers), key=lambda x: -x[0]))
    return Price(rates=tuple(rates), tiers=tiers_sorted, source=source, exact=exact)  # type: ignore[arg-type]


class PriceBook:
    """Resolves (tenant, provider, model, day) to a :class:`Price` or ``None``, cached."""

    def __init__(self, overrides: str | os.PathLike[str] | None = None):
        path = overrides if overrides is not None else os.environ.get(ENV_PRICES) or None
        self._overrides: dict[tuple[str | None, str, str], Price] = {}
        if path:
            self._load_overrides(os.fspath(path))
        self._cache: dict[tuple[str, str, str, int], Price | None] = {}
        try:
            import genai_prices
            from genai_prices import data_snapshot

            self._gp_version = genai_prices.__version__
            data_snapshot.get_snapshot()  # load the price table now (~40 ms), not inside the first agent run
        except ImportError:  # pragma: no cover - genai-prices is a pinned requirement
            self._gp_version = None

    def _load_overrides(self, path: str) -> None:
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ValueError(f"prices: cannot read overrides file {path!r}: {exc}") from exc
        name = os.path.basename(path)
        for n, entry in enumerate(data.get("price", [])):
            try:
                provider, model = str(entry["provider"]).lower(), str(entry["model"]).lower()
                rates = _rates(entry["input_mtok"], entry["output_mtok"],
                               entry.get("cache_read_mtok"), entry.get("cache_write_mtok"))
            except (KeyError, ArithmeticError) as exc:
                raise ValueError(f"prices: entry {n} of {path!r} needs provider, model, input_mtok and "
                                 f"output_mtok as decimal strings ({exc!r})") from exc
            if any(r < 0 for r in rates):
                raise ValueError(f"prices: entry {n} of {path!r} has a negative price")
            tenant = entry.get("tenant")
            self._overrides[(tenant, provider, model)] = _make_price(rates, [], f"override:{name}")

    def lookup(self, tenant: str, provider: str, model: str, day: int) -> Price | None:
        key = (tenant, provider, model, day)
        try:
            return self._cache[key]
        except KeyError:
            pass
        price = self._resolve(tenant, provider.lower(), model.lower(), day)
        if len(self._cache) > 50_000:
            self._cache.clear()
        self._cache[key] = price
        return price

    def _resolve(self, tenant: str, provider: str, model: str, day: int) -> Price | None:
        for key in ((tenant, provider, model), (None, provider, model)):
            if key in self._overrides:
                return self._overrides[key]
        if self._gp_version is None:
            return None
        from genai_prices import data_snapshot
        from genai_prices.types import TieredPrices

        provider_id = _PROVIDER_ALIASES.get(provider, provider)
        try:
            _, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)
        except LookupError:
            return None
        when = dt.datetime(1970, 1, 1, 12, tzinfo=dt.UTC) + dt.timedelta(days=day)
        mp = info.get_prices(when)
        raw = [getattr(mp, k, None) for k in ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")]
        if raw[0] is None and raw[1] is None:
            return None  # priced per request or per second: not a token price we can apply

        def at(threshold: int | None) -> tuple[Decimal, ...]:
            vals = []
            for v in raw:
                if isinstance(v, TieredPrices):
                    price = v.base
                    if threshold is not None:
                        for tier in v.tiers:
                            if tier.start <= threshold:
                                price = tier.price
                    vals.append(price)
                else:
                    vals.append(v)
            return _rates(*vals)

        thresholds = sorted({t.start for v in raw if isinstance(v, TieredPrices) for t in v.tiers})
        tiers = [(t, at(t)) for t in thresholds]
        return _make_price(at(None), tiers, f"genai-prices {self._gp_version}")
