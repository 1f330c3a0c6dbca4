"""``AnthropicProvider``: the Messages API through the official ``anthropic`` SDK (optional).

Streams by default (time to first token is the first content delta). Usage is
read by genai-prices' Anthropic extractor: Anthropic reports ``input_tokens``
without the cache, so the design's ``input_tokens`` is input plus cache creation
plus cache read; 5-minute and 1-hour writes (``usage.cache_creation``) and web
searches (``usage.server_tool_use``) are priced as billed, and a priority or
batch ``service_tier`` at its prices. The SDK's usage is kept as raw usage. Tool
calls map to ``tool_use`` blocks, tool results to ``tool_result`` blocks in a user
turn. An SDK timeout becomes ``TimeoutError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recorder.providers.base import Completion
from recorder.providers.sdk import SDKProvider
from recorder.providers.usage import extract
from recorder.providers.wire import b64, file_parts, parse_args, plain


def wire(messages: list[dict[str, Any]], files: list[Any]) -> tuple[str | None, list[dict[str, Any]]]:
    system = None
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m["role"]
        if role == "system":
            system = m.get("content")
        elif role == "tool":
            block = {"type": "tool_result", "tool_use_id": m["tool_call_id"], "content": m["content"]}
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list) and all(
                    b.get("type") == "tool_result" for b in out[-1]["content"]):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif role == "assistant":
            blocks: list[dict[str, Any]] = []
            if m.get("content"):
                blocks.append({"type": "text", "text": m["content"]})
            for c in m.get("tool_calls") or []:
                blocks.append({"type": "tool_use", "id": c["id"], "name": c["name"], "input": c.get("arguments") or {}})
            out.append({"role": "assistant", "content": blocks or ""})
        elif isinstance(m.get("content"), str):
            out.append({"role": "user", "content": m["content"]})
        else:
            parts: list[dict[str, Any]] = []
            for kind, f in file_parts(m.get("content"), files):
                if kind == "text":
                    parts.append({"type": "text", "text": f})
                    continue
                block_type = "image" if f.media_type.startswith("image/") else "document"
                source = ({"type": "url", "url": f.url} if f.url else
                          {"type": "base64", "media_type": f.media_type, "data": b64(f)})
                parts.append({"type": block_type, "source": source})
            out.append({"role": "user", "content": parts})
    return system, out


def completion_usage(model: str | None, raw: Any) -> dict[str, Any]:
    """The Completion fields for a Messages usage object (``extract`` does the reading)."""
    usage, reason = extract({"model": model, "usage": raw}, "anthropic", "default")
    tier = raw.get("service_tier") if isinstance(raw, dict) else None
    # Anthropic reports a Message Batches result as service_tier "batch": genai-prices prices
    # that as the batch processing variant, not as a tier.
    return {"usage": usage, "unpriced_reason": reason, "raw_usage": raw, "batch": tier == "batch",
            "service_tier": None if tier in (None, "standard", "batch") else tier}


class AnthropicProvider(SDKProvider):
    name = "anthropic"

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None, client: Any = None,
                 async_client: Any = None, stream: bool = True, max_tokens: int = 1024,
                 temperature: float | None = None):
        import anthropic  # optional dependency: pip install anthropic

        self._anthropic = anthropic
        self._timeout_errors = (anthropic.APITimeoutError,)
        self.client = client or anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=0)
        self._async_args: dict[str, Any] = {"api_key": api_key, "base_url": base_url}
        self._aclient = async_client
        self.stream, self.max_tokens, self.temperature = stream, max_tokens, temperature

    @property
    def aclient(self) -> Any:
        if self._aclient is None:
            self._aclient = self._anthropic.AsyncAnthropic(max_retries=0, **self._async_args)
        return self._aclient

    def vendor(self, model: str) -> str:
        return "anthropic"

    def request_params(self, model: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
        params: dict[str, Any] = {"model": model, "max_tokens": self.max_tokens, "stream": self.stream,
                                  "base_url": str(self.client.base_url), "tools": [t["name"] for t in tools] or None}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        return params

    def _kwargs(self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], files: list[Any],
                timeout: float | None) -> dict[str, Any]:
        system, msgs = wire(messages, files)
        kw: dict[str, Any] = {"model": model, "messages": msgs, "max_tokens": self.max_tokens, "timeout": timeout}
        if system:
            kw["system"] = system
        if tools:
            kw["tools"] = [{"name": t["name"], "description": t.get("description", ""),
                            "input_schema": t["parameters"]} for t in tools]
        if self.temperature is not None:
            kw["temperature"] = self.temperature
        if self.stream:
            kw["stream"] = True
        return kw

    def _send(self, kwargs: dict[str, Any]) -> Any:
        return self.client.messages.create(**kwargs)

    async def _asend(self, kwargs: dict[str, Any]) -> Any:
        return await self.aclient.messages.create(**kwargs)

    def _from_response(self, msg: Any) -> Completion:
        text = "".join(b.text for b in msg.content if b.type == "text") or None
        calls = [{"id": b.id, "name": b.name, "arguments": b.input} for b in msg.content if b.type == "tool_use"]
        return Completion(text=text, tool_calls=calls, stop_reason=msg.stop_reason, model=msg.model,
                          **completion_usage(msg.model, plain(msg.usage)))

    def _event(self, state: dict[str, Any], ev: Any, on_first_token: Callable[[], None]) -> None:
        t = ev.type
        if t == "message_start":
            state["usage"] = plain(ev.message.usage)
            state["model"] = ev.message.model
        elif t == "content_block_start":
            if ev.content_block.type == "tool_use":
                state["calls"][ev.index] = {"id": ev.content_block.id, "name": ev.content_block.name, "json": []}
        elif t == "content_block_delta":
            self._first(state, on_first_token)
            d = ev.delta
            if d.type == "text_delta":
                state["text"].append(d.text)
            elif d.type == "input_json_delta":
                state["calls"][ev.index]["json"].append(d.partial_json)
        elif t == "message_delta":
            state["stop"] = ev.delta.stop_reason
            if ev.usage is not None:
                state["usage"] = {**(state.get("usage") or {}), **plain(ev.usage)}

    def _finish(self, state: dict[str, Any]) -> Completion:
        raw = state.get("usage") or None
        calls = [{"id": b["id"], "name": b["name"], "arguments": parse_args("".join(b["json"]))}
                 for _, b in sorted(state["calls"].items())]
        return Completion(text="".join(state["text"]) or None, tool_calls=calls, stop_reason=state.get("stop"),
                          model=state.get("model"), **completion_usage(state.get("model"), raw))
