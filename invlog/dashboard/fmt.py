"""Formatting for people: money, tokens, durations and times in a chosen time zone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import polars as pl

from warehouse.money import money  # one money format: tables, charts, the HTML report, alerts

TIMEZONES = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo",
             "Asia/Kolkata", "Australia/Sydney"]


def signed_money(value: Decimal | float | None) -> str:
    """A money change with its sign: "+$0.50", "-$0.000460", "$0.00"; "—" when unknown."""
    if value is None:
        return "—"
    d = Decimal(str(value))
    return money(d) if d == 0 else ("+" if d > 0 else "-") + money(abs(d))


def money_text(column: str, *, signed: bool = False, alias: str | None = None) -> pl.Expr:
    """A money column as the text the tables show: "$0.04", "unpriced" for null (never blank or $0); with
    ``signed``, a change ("+$0.50")."""
    fn = signed_money if signed else money
    return pl.col(column).map_elements(fn, return_dtype=pl.Utf8, skip_nulls=False).alias(alias or column)


def tokens(value: int | None) -> str:
    return "—" if value is None else f"{int(value):,}"


def ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:,.2f} s" if value >= 1000 else f"{value:,.0f} ms"


def duration(value: float | None) -> str:
    """A span in words: "850 ms", "42.5 s", "6 min 10 s", "3 h 05 min", "4 d 6 h"."""
    if value is None:
        return "—"
    if value < 1000:
        return f"{value:,.0f} ms"
    s = value / 1000
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(s), 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h} h {m:02d} min"
    d, h = divmod(h, 24)
    return f"{d:,} d {h} h"


def when(value: dt.datetime | None, tz: str) -> str:
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(tz))
    return local.strftime("%Y-%m-%d %H:%M:%S") + ("" if tz == "UTC" else f" {local.tzname()}")


def delta(now: float | Decimal, before: float | Decimal, *, usd: bool = False) -> str | None:
    """The change from ``before`` with its sign ("+7", "-3"); money with its unit ("+$0.05", "-$0.000460")."""
    diff = Decimal(str(now)) - Decimal(str(before))
    if diff == 0:
        return None
    if usd:
        return signed_money(diff)
    return f"{diff:+,}" if diff == diff.to_integral_value() else f"{diff:+,.4f}"


_REASONS = {"unknown_model": "the model has no known price", "missing_usage": "the call reported no usage",
            "unreadable_usage": "the provider's usage could not be read",
            "no_price_for_unit": "a billed unit has no price for this model"}


def price_note(r: dict) -> str:
    """Where a round's cost came from, or why it has none (never shown as $0)."""
    extras = [f"tier {r['service_tier']}" if r.get("service_tier") else "", "batch" if r.get("batch") else ""]
    tier = ", ".join(x for x in extras if x)
    if r.get("price_source"):
        return f"Price source: {r['price_source']}" + (f" ({tier})" if tier else "")
    reason = _REASONS.get(r.get("unpriced_reason") or "", "no known price")
    return f"Unpriced: {reason}; no cost is recorded (not $0)."


def reported_note(reported: Decimal, ours: Decimal | None) -> str:
    """The provider's own figure beside ours, with the difference when both are known."""
    text = f"Cost reported by the provider: {money(reported)}"
    if ours is not None and reported != ours:
        diff = Decimal(str(reported)) - Decimal(str(ours))
        text += f" ({'+' if diff > 0 else '-'}{money(abs(diff))} against ours)"
    return text
