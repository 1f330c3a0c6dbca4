"""``OpenAIResponsesProvider``: OpenAI's Responses API through the official ``openai`` SDK.

The agent's OpenAI-style conversation becomes Responses input items: the system
prompt is ``instructions``, user content parts are ``input_text`` /
``input_image`` / ``input_file``, an assistant's tool calls are ``function_call``
items and tool results ``function_call_output`` items (matched by ``call_id``).
Streams by default (time to first token is the first text or arguments delta); the
final ``response.completed`` event carries the whole response, which is read like a
non-streamed one. Usage is read by genai-prices' ``responses`` extractor (cached
reads and writes, reasoning) under ``vendor_id`` (``openai``, or ``azure`` for
Azure OpenAI), with the reported ``service_tier``. A response without usage is
unpriced, never $0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recorder.providers.base import Completion
from recorder.providers.openai import OpenAIProvider
from recorder.providers.usage import extract
from recorder.providers.wire import args_json, b64, file_parts, parse_args, plain


def wire_input(messages: list[dict[str, Any]], files: list[Any]) -> tuple[str | None, list[dict[str, Any]]]:
    instructions = None
    items: list[dict[str, Any]] = []
    for m in messages:
        role = m["role"]
        if role == "system":
            instructions = m.get("content")
        elif role == "tool":
            items.append({"type": "function_call_output", "call_id": m["tool_call_id"], "output": m["content"]})
        elif role == "assistant":
            if m.get("content"):
                items.append({"role": "assistant", "content": m["content"]})
            for c in m.get("tool_calls") or []:
                items.append({"type": "function_call", "call_id": c["id"], "name": c["name"],
                              "arguments": args_json(c.get("arguments"))})
        elif isinstance(m.get("content"), str):
            items.append({"role": "user", "content": m["content"]})
        else:
            parts: list[dict[str, Any]] = []
            for kind, f in file_parts(m.get("content"), files):
                if kind == "text":
                    parts.append({"type": "input_text", "text": f})
                elif f.media_type.startswith("image/"):
                    parts.append({"type": "input_image",
                                  "image_url": f.url or f"data:{f.media_type};base64,{b64(f)}"})
                elif f.url:
                    parts.append({"type": "input_file", "file_url": f.url})
                else:
                    parts.append({"type": "input_file", "filename": f.filename,
                                  "file_data": f"data:{f.media_type};base64,{b64(f)}"})
            items.append({"role": "user", "content": parts})
    return instructions, items


class OpenAIResponsesProvider(OpenAIProvider):
    """The same client, key handling and vendor pricing as ``OpenAIProvider``; the Responses wire."""

    name = "openai-responses"

    def request_params(self, model: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
        params: dict[str, Any] = {"model": model, "max_output_tokens": self.max_tokens, "stream": self.stream,
                                  "api": "responses", "base_url": str(self.client.base_url),
                                  "tools": [t["name"] for t in tools] or None}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        return params

    def _kwargs(self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], files: list[Any],
                timeout: float | None) -> dict[str, Any]:
        instructions, items = wire_input(messages, files)
        kw: dict[str, Any] = {"model": model, "input": items, "max_output_tokens": self.max_tokens,
                              "timeout": timeout}
        if instructions:
            kw["instructions"] = instructions
        if tools:
            kw["tools"] = [{"type": "function", "name": t["name"], "description": t.get("description", ""),
                            "parameters": t["parameters"]} for t in tools]
        if self.temperature is not None:
            kw["temperature"] = self.temperature
        if self.stream:
            kw["stream"] = True
        return kw

    def _send(self, kwargs: dict[str, Any]) -> Any:
        return self.client.responses.create(**kwargs)

    async def _asend(self, kwargs: dict[str, Any]) -> Any:
        return await self.aclient.responses.create(**kwargs)

    def _from_response(self, resp: Any) -> Completion:
        text: list[str] = []
        calls = []
        for item in resp.output or []:
            if item.type == "message":
                text.extend(c.text for c in item.content or [] if getattr(c, "type", None) == "output_text")
            elif item.type == "function_call":
                calls.append({"id": item.call_id, "name": item.name, "arguments": parse_args(item.arguments)})
        raw = plain(resp.usage)
        usage, reason = extract({"model": resp.model, "usage": raw}, self.vendor_id, "responses")
        incomplete = getattr(resp, "incomplete_details", None)
        stop = "tool_calls" if calls else (getattr(incomplete, "reason", None) or "stop")
        return Completion(text="".join(text) or None, tool_calls=calls, stop_reason=stop, usage=usage,
                          raw_usage=raw, model=resp.model, service_tier=getattr(resp, "service_tier", None),
                          unpriced_reason=reason)

    def _event(self, state: dict[str, Any], ev: Any, on_first_token: Callable[[], None]) -> None:
        t = ev.type
        if t in ("response.output_text.delta", "response.function_call_arguments.delta"):
            self._first(state, on_first_token)
        elif t in ("response.completed", "response.incomplete", "response.failed"):
            state["response"] = ev.response

    def _finish(self, state: dict[str, Any]) -> Completion:
        resp = state.get("response")
        if resp is None:  # the stream ended without its final event: no answer, no usage
            return Completion(text=None, unpriced_reason="missing_usage", model=state["model"])
        return self._from_response(resp)
