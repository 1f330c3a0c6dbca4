"""The hot path's one dependency: where a finished invocation goes.

An ``Invocation`` and its rounds need three things from their recorder: the price book
(a round is priced when it ends), a place for the finished row tuple (``submit``: never
blocks, never raises; a full queue drops and counts), and a counter for their own
internal errors. ``Sink`` names exactly that, so the hot path does not reach into the
``Recorder``. The recorder gives its invocations a ``FlusherSink`` over its flusher;
``Recorder(sink=MemorySink())`` keeps the tuples in memory instead, for tests and
benchmarks that want the rows without a lake, readable by column name.
"""

from __future__ import annotations

from typing import Any, Protocol

from invlog.lake import INVOCATIONS, ROUNDS
from invlog.pricing import PriceBook


class Sink(Protocol):
    prices: PriceBook

    def submit(self, item: tuple[Any, ...]) -> None: ...

    def internal_error(self) -> None: ...


class FlusherSink:
    """Invocations go to the recorder's flusher (its bounded queue)."""

    __slots__ = ("_flusher", "prices", "submit")

    def __init__(self, prices: PriceBook, flusher: Any):
        self.prices = prices
        self.submit = flusher.submit  # bound once: one attribute lookup per run on the hot path
        self._flusher = flusher

    def internal_error(self) -> None:
        # looked up each time: a forked child's flusher starts a fresh ledger
        self._flusher.ledger.counters["internal_errors"] += 1


class MemorySink:
    """Keeps every submitted item: ``(invocation row, round rows)`` tuples.

    Rows are as the hot path built them: costs in picodollars, and the attachments slot
    holding the run's ``LLMFile`` objects (no flusher mirrors them here)."""

    def __init__(self, prices: PriceBook | None = None):
        self.prices = prices if prices is not None else PriceBook(None)
        self.items: list[tuple[Any, ...]] = []
        self.errors = 0

    def submit(self, item: tuple[Any, ...]) -> None:
        self.items.append(item)

    def internal_error(self) -> None:
        self.errors += 1

    def invocations(self) -> list[dict[str, Any]]:
        """The invocation rows as the hot path built them, by column name (costs in picodollars)."""
        return [dict(zip(INVOCATIONS.names, row, strict=True)) for row, _ in self.items]

    def rounds(self) -> list[dict[str, Any]]:
        return [dict(zip(ROUNDS.names, r, strict=True)) for _, rounds in self.items for r in rounds]
