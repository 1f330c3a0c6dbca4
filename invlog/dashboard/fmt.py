"""Formatting for people: money, tokens, durations and times in a chosen time zone."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

TIMEZONES = ["UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo",
             "Asia/Kolkata", "Australia/Sydney"]


def money(value: Decimal | float | None) -> str:
    if value is None:
        return "unpriced"
    d = Decimal(str(value))
    if d != 0 and abs(d) < Decimal("0.01"):
        return f"${d:,.6f}".rstrip("0")
    return f"${d:,.2f}"


def tokens(value: int | None) -> str:
    return "—" if value is None else f"{int(value):,}"


def ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:,.2f} s" if value >= 1000 else f"{value:,.0f} ms"


def when(value: dt.datetime | None, tz: str) -> str:
    if value is None:
        return "—"
    local = value.astimezone(ZoneInfo(tz))
    return local.strftime("%Y-%m-%d %H:%M:%S") + ("" if tz == "UTC" else f" {local.tzname()}")


def delta(now: float | Decimal, before: float | Decimal) -> str | None:
    diff = Decimal(str(now)) - Decimal(str(before))
    return None if diff == 0 else (f"{diff:+,}" if diff == diff.to_integral_value() else f"{diff:+,.4f}")
