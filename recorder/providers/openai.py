"""``OpenAIProvider``: Chat Completions through the official ``openai`` SDK (optional).

Streams by default (time to first token is the first content or tool-call delta)
and asks for usage in the stream. Usage is read by genai-prices' Chat
Completions extractor (cached reads and writes, audio, reasoning) and priced
under ``vendor_id``, so an OpenAI-compatible vendor (Groq, Mistral, DeepSeek,
OpenRouter, Azure OpenAI, ...) is priced at its own prices; a cost the vendor
reports (OpenRouter's ``usage.cost``) is kept beside ours. A stream without usage
(a server that ignores ``include_usage``) is unpriced, never $0. The SDK's usage
object is kept as raw usage. An SDK timeout
becomes ``TimeoutError`` (status Timeout); other SDK errors propagate as they are.
The API key lives in the client only and is never part of ``request_params``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recorder.providers.base import Completion
from recorder.providers.sdk import SDKProvider
from recorder.providers.usage import extract
from recorder.providers.wire import args_json, b64, file_parts, parse_args, plain


def _tool_specs(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": t["name"], "description": t.get("description", ""),
                                              "parameters": t["parameters"]}} for t in tools]


def wire_messages(messages: list[dict[str, Any]], files: list[Any]) -> list[dict[str, Any]]:
    out = []
    for m in messages:
        role = m["role"]
        if role == "assistant" and m.get("tool_calls"):
            out.append({"role": "assistant", "content": m.get("content"), "tool_calls": [
                {"id": c["id"], "type": "function",
                 "function": {"name": c["name"], "arguments": args_json(c.get("arguments"))}}
                for c in m["tool_calls"]]})
        elif role == "tool":
            out.append({"role": "tool", "tool_call_id": m["tool_call_id"], "content": m["content"]})
        elif role == "user" and not isinstance(m.get("content"), str):
            parts: list[dict[str, Any]] = []
            for kind, value in file_parts(m.get("content"), files):
                if kind == "text":
                    parts.append({"type": "text", "text": value})
                elif value.media_type.startswith("image/"):
                    url = value.url or f"data:{value.media_type};base64,{b64(value)}"
                    parts.append({"type": "image_url", "image_url": {"url": url}})
                elif value.url:
                    parts.append({"type": "text", "text": f"[file {value.filename}: {value.url}]"})
                else:
                    parts.append({"type": "file", "file": {
                        "filename": value.filename, "file_data": f"data:{value.media_type};base64,{b64(value)}"}})
            out.append({"role": "user", "content": parts})
        else:
            out.append({"role": role, "content": m.get("content")})
    return out


def completion_usage(model: str | None, raw: Any, vendor_id: str) -> dict[str, Any]:
    """The Completion fields for a Chat Completions usage object (``extract`` does the reading)."""
    usage, reason = extract({"model": model, "usage": raw}, vendor_id, "chat")
    cost = raw.get("cost") if isinstance(raw, dict) else None  # OpenRouter reports its own charge
    return {"usage": usage, "unpriced_reason": reason, "raw_usage": raw,
            "reported_cost_usd": str(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None}


class OpenAIProvider(SDKProvider):
    name = "openai"

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None, client: Any = None,
                 async_client: Any = None, stream: bool = True, max_tokens: int = 1024,
                 temperature: float | None = None, vendor_id: str = "openai"):
        import openai  # optional dependency: pip install openai

        self._openai = openai
        self._timeout_errors = (openai.APITimeoutError,)
        self.client = client or openai.OpenAI(api_key=api_key, base_url=base_url, max_retries=0)
        self._async_args: dict[str, Any] = {"api_key": api_key, "base_url": base_url}
        self._aclient = async_client
        self.stream, self.max_tokens, self.temperature, self.vendor_id = stream, max_tokens, temperature, vendor_id

    @property
    def aclient(self) -> Any:
        if self._aclient is None:
            self._aclient = self._openai.AsyncOpenAI(max_retries=0, **self._async_args)
        return self._aclient

    def vendor(self, model: str) -> str:
        return self.vendor_id

    def request_params(self, model: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
        params: dict[str, Any] = {"model": model, "max_tokens": self.max_tokens, "stream": self.stream,
                                  "base_url": str(self.client.base_url), "tools": [t["name"] for t in tools] or None}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        return params

    def _kwargs(self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], files: list[Any],
                timeout: float | None) -> dict[str, Any]:
        kw: dict[str, Any] = {"model": model, "messages": wire_messages(messages, files),
                              "max_tokens": self.max_tokens, "timeout": timeout}
        if tools:
            kw["tools"] = _tool_specs(tools)
        if self.temperature is not None:
            kw["temperature"] = self.temperature
        if self.stream:
            kw.update(stream=True, stream_options={"include_usage": True})
        return kw

    def _from_response(self, resp: Any) -> Completion:
        choice = resp.choices[0]
        msg = choice.message
        calls = [{"id": c.id, "name": c.function.name, "arguments": parse_args(c.function.arguments)}
                 for c in msg.tool_calls or []]
        return Completion(text=msg.content, tool_calls=calls, stop_reason=choice.finish_reason, model=resp.model,
                          service_tier=getattr(resp, "service_tier", None),
                          **completion_usage(resp.model, plain(resp.usage), self.vendor_id))

    def _send(self, kwargs: dict[str, Any]) -> Any:
        return self.client.chat.completions.create(**kwargs)

    async def _asend(self, kwargs: dict[str, Any]) -> Any:
        return await self.aclient.chat.completions.create(**kwargs)

    def _event(self, state: dict[str, Any], chunk: Any, on_first_token: Callable[[], None]) -> None:
        if chunk.usage is not None:
            state["usage"] = chunk.usage
        state["model"] = chunk.model or state.get("model")
        state["tier"] = getattr(chunk, "service_tier", None) or state.get("tier")
        for choice in chunk.choices:
            d = choice.delta
            if d.content or d.tool_calls:
                self._first(state, on_first_token)
            if d.content:
                state["text"].append(d.content)
            for tc in d.tool_calls or []:
                slot = state["calls"].setdefault(tc.index, {"id": None, "name": "", "args": []})
                if tc.id:
                    slot["id"] = tc.id
                if tc.function and tc.function.name:
                    slot["name"] += tc.function.name
                if tc.function and tc.function.arguments:
                    slot["args"].append(tc.function.arguments)
            if choice.finish_reason:
                state["stop"] = choice.finish_reason

    def _finish(self, state: dict[str, Any]) -> Completion:
        calls = [{"id": c["id"], "name": c["name"], "arguments": parse_args("".join(c["args"]))}
                 for _, c in sorted(state["calls"].items())]
        return Completion(text="".join(state["text"]) or None, tool_calls=calls, stop_reason=state.get("stop"),
                          model=state.get("model"), service_tier=state.get("tier"),
                          **completion_usage(state.get("model"), plain(state.get("usage")), self.vendor_id))
