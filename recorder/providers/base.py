"""The provider protocol the agent loop talks to, and the shape of one model answer.

A provider turns the agent's OpenAI-style message list (``role``/``content``,
assistant ``tool_calls``, ``tool`` results, content parts for files) into its own
wire format, calls the model, and returns a :class:`Completion` whose ``usage``
is what genai-prices' extractor reads from the provider's body (the design's
token convention: input counts cached tokens; output counts reasoning), with the
provider's raw usage kept beside it. ``request_params`` is
what was sent besides the messages, never the API key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Completion:
    text: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # {"id", "name", "arguments"}
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    raw_usage: Any = None
    model: str | None = None
    ttft_ms: float | None = None
    service_tier: str | None = None  # as the provider reported it (prices differ by tier)
    batch: bool = False  # a batch call (priced at the provider's batch prices)
    reported_cost_usd: Any = None  # a cost the vendor reported (OpenRouter's usage.cost), kept beside ours
    unpriced_reason: str | None = None  # why usage is absent or unreadable (see providers.usage.extract)


class ProviderError(Exception):
    """The model call failed (HTTP error, overload, malformed answer)."""


class Provider(Protocol):
    name: str

    def vendor(self, model: str) -> str:
        """The provider id recorded (and priced) for ``model``."""
        ...

    def request_params(self, model: str, tools: list[dict[str, Any]]) -> dict[str, Any]: ...

    def complete(self, *, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                 files: list[Any], timeout: float | None, on_first_token: Callable[[], None],
                 clock: Any) -> Completion:
        """One model call. ``files`` are the run's ``LLMFile``s, in the order of the user
        message's ``{"type": "file"}`` parts (which hold only their metadata)."""
        ...

    async def acomplete(self, *, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                        files: list[Any], timeout: float | None, on_first_token: Callable[[], None],
                        clock: Any) -> Completion: ...
