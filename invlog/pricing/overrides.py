"""The price overrides file: negotiated prices, fine-tuned models, price changes.

TOML, from ``Recorder(prices=...)``, ``warehouse reprice --prices`` or
``INVLOG_PRICES``. Each ``[[price]]`` names a provider and model (optionally a
tenant, a validity range and a service tier or batch flag) and any of
genai-prices' price keys, in USD as decimal strings (or integers) so they are
exact::

    [[price]]
    provider = "openai"
    model = "ft:gpt-4o:acme"
    tenant = "acme"              # optional: this tenant only (wins over an entry without tenant)
    from = 2026-01-01            # optional, inclusive (UTC day of the call)
    until = 2026-07-01           # optional, exclusive
    service_tier = "flex"        # optional: only calls reporting this tier
    batch = true                 # optional: only batch (true) or only non-batch (false) calls
    input_mtok = "3.75"          # per million tokens
    output_mtok = "15"
    cache_read_mtok = "1.875"    # unpriced parts are priced as their parent (cache read as input)
    cache_write_mtok = "4.6875"
    cache_write_1h_mtok = "7.5"
    input_audio_mtok = "40"
    output_audio_mtok = "80"
    web_searches_kcount = "10"   # per thousand searches
    requests_kcount = "0"        # per thousand requests

Where several entries match a call, a tenant's entry wins over a general one and,
among equals, the later one in the file. Every mistake raises ``ValueError``
naming the file, the entry and the field.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from genai_prices.types import ModelPrice
from genai_prices.units import _get_registry
from genai_prices.validation import validate_model_price

ENV_PRICES = "INVLOG_PRICES"
_META = frozenset({"provider", "model", "tenant", "from", "until", "service_tier", "batch"})


@dataclass(frozen=True)
class Override:
    provider: str
    model: str
    tenant: str | None
    start: dt.date | None
    until: dt.date | None
    service_tier: str | None
    batch: bool | None
    price: ModelPrice
    source: str

    def applies(self, day: dt.date, ctx: dict[str, str]) -> bool:
        if self.start is not None and day < self.start:
            return False
        if self.until is not None and day >= self.until:
            return False
        if self.service_tier is not None and ctx.get("service_tier") != self.service_tier:
            return False
        return self.batch is None or (ctx.get("processing") == "batch") == self.batch


def _date(where: str, key: str, value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        raise ValueError(f"{where}: {key} is a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"{where}: {key} = {value!r} is not a date (YYYY-MM-DD)") from None


def _price(where: str, key: str, value: Any) -> Decimal:
    if isinstance(value, bool | float):
        raise ValueError(f"{where}: {key} = {value!r}: write prices as decimal strings "
                         "(\"3.75\") so they are exact")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{where}: {key} = {value!r} is not a decimal amount") from None
    if not d.is_finite() or d < 0:
        raise ValueError(f"{where}: {key} = {value!r} must be a finite, non-negative amount")
    return d


def load(path: str | os.PathLike[str]) -> list[Override]:
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"prices: cannot read overrides file {path!r}: {exc}") from exc
    name = os.path.basename(path)
    price_keys = _get_registry()._all_price_keys
    extra = set(data) - {"price"}
    if extra:
        raise ValueError(f"prices: {path!r}: unknown table {sorted(extra)[0]!r}; expected [[price]] entries")
    out = []
    for n, entry in enumerate(data.get("price", []), start=1):
        where = f"prices: {path!r} entry {n}"
        for key in ("provider", "model"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise ValueError(f"{where}: {key} is required (a string)")
        where += f" ({entry['provider']}/{entry['model']})"
        unknown = sorted(k for k in entry if k not in _META and k not in price_keys)
        if unknown:
            raise ValueError(f"{where}: unknown field {unknown[0]!r}; price fields are genai-prices price keys "
                             "such as input_mtok, output_mtok, cache_read_mtok, cache_write_1h_mtok, "
                             "input_audio_mtok, web_searches_kcount")
        prices = {k: _price(where, k, v) for k, v in entry.items() if k in price_keys}
        if not prices:
            raise ValueError(f"{where}: no price given (input_mtok, output_mtok, ...)")
        try:
            validate_model_price(set(prices), _get_registry())
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        start, until = _date(where, "from", entry.get("from")), _date(where, "until", entry.get("until"))
        if start and until and until <= start:
            raise ValueError(f"{where}: until ({until}) must be after from ({start})")
        tier, batch, tenant = entry.get("service_tier"), entry.get("batch"), entry.get("tenant")
        if tier is not None and not isinstance(tier, str):
            raise ValueError(f"{where}: service_tier must be a string")
        if batch is not None and not isinstance(batch, bool):
            raise ValueError(f"{where}: batch must be true or false")
        if tenant is not None and not isinstance(tenant, str):
            raise ValueError(f"{where}: tenant must be a string")
        out.append(Override(entry["provider"].lower(), entry["model"].lower(), tenant, start, until, tier, batch,
                            ModelPrice(**prices), f"override:{name}"))
    return out


def choose(overrides: list[Override], tenant: str, provider: str, model: str, day: dt.date,
           ctx: dict[str, str]) -> Override | None:
    best: Override | None = None
    for o in overrides:
        if o.provider != provider or o.model != model or (o.tenant is not None and o.tenant != tenant):
            continue
        if not o.applies(day, ctx):
            continue
        if best is None or o.tenant is not None or best.tenant is None:
            best = o  # later entries win; a tenant's entry is never replaced by a general one
    return best
