"""The UTC window a budget's period covers at a given moment.

Calendar periods (``day``, ``week`` starting Monday, ``month``) are fixed windows that end;
a rolling period (``hours = N``) is the last N hours up to now and never ends. Both the
checker (which sums the spend in the window) and the recorder (which must know when a cached
spend belongs to a period that is over) use this one definition.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PERIODS = ("day", "week", "month")


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime | None  # None: a rolling window, which ends at "now" whenever it is asked

    @property
    def rolling(self) -> bool:
        return self.end is None


def window(period: str | None, hours: int | None, now: dt.datetime) -> Window:
    """The window of ``period`` (or of the last ``hours``) that holds ``now`` (timezone-aware)."""
    now = now.astimezone(dt.UTC)
    if hours is not None:
        return Window(now - dt.timedelta(hours=hours), None)
    day = dt.datetime.combine(now.date(), dt.time(), dt.UTC)
    if period == "day":
        return Window(day, day + dt.timedelta(days=1))
    if period == "week":
        start = day - dt.timedelta(days=now.weekday())
        return Window(start, start + dt.timedelta(days=7))
    if period == "month":
        start = day.replace(day=1)
        nxt = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        return Window(start, nxt)
    raise ValueError(f"period: expected one of {', '.join(PERIODS)}, got {period!r}")


def label(period: str | None, hours: int | None) -> str:
    return f"last {hours} h" if hours is not None else str(period)
