"""``OfflineProvider``: a deterministic, network-free model for demos and tests.

It answers like a real deployment would be recorded: multi-round runs with tool
calls, token counts sampled from real production request sizes (a sample of the
Azure LLM inference trace 2023, CC-BY 4.0, shipped in ``recorder/data``), prompt
caching on follow-up rounds (cache reads; cache writes for Anthropic models),
reasoning tokens for reasoning models, a streamed first token, latency, and now
and then a failure or a hang past the run's timeout. Answers depend only on the
seed, the model and the messages, so a demo is reproducible. Time is simulated on
the clock it is given (``SimClock``), so no real time passes; with the real clock
it sleeps ``latency_scale`` times the simulated latency (0 by default).
"""

from __future__ import annotations

import asyncio
import csv
import os
import random
import zlib
from collections.abc import Callable, Generator
from functools import cache
from typing import Any

from recorder.providers.base import Completion, ProviderError

VENDORS = {
    "gpt-4o": "openai", "gpt-4o-mini": "openai", "o3-mini": "openai", "gpt-4.1-mini": "openai",
    "claude-sonnet-4-5": "anthropic", "claude-3-5-haiku-latest": "anthropic",
    "gemini-2.5-flash": "google",
}
REASONING = {"o3-mini"}


@cache
def _trace() -> tuple[tuple[int, int], ...]:
    path = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "azure_llm_2023_sample.csv")
    with open(path, encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return tuple((int(r["context_tokens"]), int(r["generated_tokens"])) for r in rows)


def _chars(messages: list[dict[str, Any]]) -> int:
    n = 0
    for m in messages:
        c = m.get("content")
        if isinstance(c, str):
            n += len(c)
        elif isinstance(c, list):
            n += sum(len(str(p.get("text", ""))) + 400 * (p.get("type") != "text") for p in c)
        n += sum(len(str(t)) for t in m.get("tool_calls") or ())
    return n


class OfflineProvider:
    """A simulated provider; see the module docstring."""

    name = "offline"

    def __init__(self, seed: int = 0, *, tool_rate: float = 0.6, failure_rate: float = 0.0,
                 hang_rate: float = 0.0, latency_scale: float = 0.0):
        for pname, v in (("tool_rate", tool_rate), ("failure_rate", failure_rate), ("hang_rate", hang_rate)):
            if not 0 <= v <= 1:
                raise ValueError(f"{pname}: expected a probability in [0, 1], got {v!r}")
        self.seed, self.tool_rate, self.failure_rate = seed, tool_rate, failure_rate
        self.hang_rate, self.latency_scale = hang_rate, latency_scale

    def vendor(self, model: str) -> str:
        return VENDORS.get(model, "offline")

    def request_params(self, model: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
        return {"model": model, "max_tokens": 1024, "temperature": 0.2, "stream": True,
                "tools": [t["name"] for t in tools] or None}

    def _plan(self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> dict[str, Any]:
        last = messages[-1] if messages else {}
        key = f"{self.seed}|{model}|{len(messages)}|{str(last.get('content'))[:500]}".encode()
        rng = random.Random(zlib.crc32(key))
        ctx, gen = rng.choice(_trace())
        prompt = max(8, _chars(messages) // 4 + ctx // 3)
        vendor = self.vendor(model)
        follow_up = any(m.get("role") == "tool" for m in messages)
        cache_read = cache_write = 0
        if follow_up and prompt > 1024:
            cache_read = int(prompt * rng.uniform(0.6, 0.9))
        if vendor == "anthropic" and not follow_up and prompt > 1024 and rng.random() < 0.5:
            cache_write = int(prompt * rng.uniform(0.3, 0.7))
        output = max(1, min(gen, 4000))
        reasoning = int(output * rng.uniform(0.4, 0.8)) if model in REASONING else 0
        output += reasoning
        ttft = rng.uniform(0.15, 0.9)
        total = ttft + output * rng.uniform(0.006, 0.02)
        fate = rng.random()
        usage = {"input_tokens": prompt, "output_tokens": output, "cache_read_tokens": cache_read,
                 "cache_write_tokens": cache_write, "reasoning_tokens": reasoning}
        plan: dict[str, Any] = {"usage": usage, "ttft": ttft, "total": total, "fail": fate < self.failure_rate,
                                "hang": self.failure_rate <= fate < self.failure_rate + self.hang_rate}
        if tools and not follow_up and rng.random() < self.tool_rate:
            tool = rng.choice(tools)
            args = {}
            for pname, spec in tool.get("parameters", {}).get("properties", {}).items():
                t = spec.get("type")
                args[pname] = rng.randint(1, 99_999) if t == "integer" else (
                    round(rng.uniform(1, 500), 2) if t == "number" else (
                        rng.random() < 0.5 if t == "boolean" else f"{pname}-{rng.randint(100, 999)}"))
            plan["tool_calls"] = [{"id": f"call_{rng.getrandbits(48):012x}", "name": tool["name"],
                                   "arguments": args}]
            plan["text"] = None
            plan["stop"] = "tool_calls"
        else:
            topic = str(last.get("content") or "your request")[:80]
            plan["tool_calls"] = []
            plan["text"] = rng.choice([
                f"Here is what I found about {topic!r}: everything is in order.",
                f"Thanks for asking about {topic!r}. The answer is ready; details follow.",
                f"I checked {topic!r}. It is resolved; no further action is needed.",
            ])
            plan["stop"] = "stop"
        plan["raw"] = {"simulated": True, **plan["usage"]}
        return plan

    def _finish(self, plan: dict[str, Any], model: str) -> Completion:
        if plan["fail"]:
            raise ProviderError("503 Service Unavailable: model overloaded (simulated)")
        return Completion(text=plan["text"], tool_calls=plan["tool_calls"], stop_reason=plan["stop"],
                          usage=plan["usage"], raw_usage=plan["raw"], model=model)

    def _call(self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
              timeout: float | None, on_first_token: Callable[[], None]) -> Generator[float, None, Completion]:
        """The simulated call, once: it yields each wait (seconds) for the runner to sleep, sync or async."""
        plan = self._plan(model, messages, tools)
        total = 3600.0 if plan["hang"] else plan["total"]
        if timeout is not None and total > timeout:
            yield timeout
            raise TimeoutError(f"{model} did not answer within {timeout:.1f}s (simulated)")
        yield plan["ttft"]
        if not plan["fail"]:
            on_first_token()
        yield total - plan["ttft"]
        return self._finish(plan, model)

    def complete(self, *, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                 files: list[Any], timeout: float | None, on_first_token: Callable[[], None],
                 clock: Any) -> Completion:
        call = self._call(model, messages, tools, timeout, on_first_token)
        try:
            while True:
                self._wait(clock, next(call))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def acomplete(self, *, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                        files: list[Any], timeout: float | None, on_first_token: Callable[[], None],
                        clock: Any) -> Completion:
        call = self._call(model, messages, tools, timeout, on_first_token)
        try:
            while True:
                await self._await(clock, next(call))
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _wait(self, clock: Any, seconds: float) -> None:
        if clock is not None and hasattr(clock, "set"):  # a SimClock: simulated time only
            clock.advance(seconds)
        elif self.latency_scale > 0:
            import time

            time.sleep(seconds * self.latency_scale)

    async def _await(self, clock: Any, seconds: float) -> None:
        if clock is not None and hasattr(clock, "set"):
            clock.advance(seconds)
        elif self.latency_scale > 0:
            await asyncio.sleep(seconds * self.latency_scale)
        else:
            await asyncio.sleep(0)
