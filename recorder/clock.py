"""A simulated clock for demo data and tests (without one, the recorder reads the system clocks).

A clock has ``wall_us()`` (UTC epoch microseconds) and ``mono_ns()`` (a monotonic
counter for durations). ``SimClock`` starts at a chosen instant and only moves
when told (``advance``), so the demo can record a month of realistic runs, with
realistic latencies, in seconds.
"""

from __future__ import annotations

import datetime as dt
import threading


class SimClock:
    """A simulated clock; thread-safe; ``advance`` moves wall and monotonic time together."""

    def __init__(self, start: dt.datetime):
        if start.tzinfo is None:
            raise ValueError("start: expected a timezone-aware datetime")
        self._us = int(start.timestamp() * 1_000_000)
        self._mono = 0
        self._lock = threading.Lock()

    def wall_us(self) -> int:
        return self._us

    def mono_ns(self) -> int:
        return self._mono

    def advance(self, seconds: float) -> None:
        with self._lock:
            step = int(seconds * 1_000_000)
            self._us += step
            self._mono += step * 1000

    def set(self, when: dt.datetime) -> None:
        """Jump the wall clock (monotonic time does not go back)."""
        with self._lock:
            self._us = int(when.timestamp() * 1_000_000)
