"""``GeminiProvider``: Google Gemini through the official ``google-genai`` SDK (optional).

The conversation becomes Gemini ``contents``: the system prompt is
``system_instruction``, an assistant turn is a ``model`` turn whose tool calls are
``function_call`` parts, tool results are ``function_response`` parts in a user
turn (matched by id, with the function's name as Gemini needs), and files are
inline bytes or URIs. Gemini may omit call ids; the provider numbers them
(``call_<n>``) so results still pair with calls. Streams by default (time
to first token is the first chunk with content; every chunk carries the usage so
far and the last one is kept). Usage is read by genai-prices' Gemini extractor
from the camelCase body (prompt, cached, thoughts, tool-use prompt, per-modality
audio/image/video tokens). An SDK or HTTP timeout becomes ``TimeoutError``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Any

from recorder.providers.base import Completion
from recorder.providers.sdk import SDKProvider
from recorder.providers.usage import extract

_ids = itertools.count()


def _http_timeouts() -> tuple[type[BaseException], ...]:
    """The HTTP client's timeout exceptions (google-genai runs on httpx or its successor httpx2)."""
    import importlib

    found = []
    for name in ("httpx", "httpx2"):
        try:
            found.append(importlib.import_module(name).TimeoutException)
        except (ImportError, AttributeError):
            pass
    return tuple(found)


def _dump(obj: Any) -> Any:
    return None if obj is None else obj.model_dump(by_alias=True, exclude_none=True, mode="json")


class GeminiProvider(SDKProvider):
    name = "gemini"

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None, client: Any = None,
                 stream: bool = True, max_tokens: int = 1024, temperature: float | None = None,
                 vendor_id: str = "google"):
        from google import genai  # optional dependency: pip install google-genai
        from google.genai import types

        self._types = types
        self._timeout_errors = (*_http_timeouts(), asyncio.TimeoutError)
        options = types.HttpOptions(base_url=base_url) if base_url else None
        self.client = client or genai.Client(api_key=api_key, http_options=options)
        self.base_url = base_url
        self.stream, self.max_tokens, self.temperature, self.vendor_id = stream, max_tokens, temperature, vendor_id

    def vendor(self, model: str) -> str:
        return self.vendor_id

    def request_params(self, model: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
        params: dict[str, Any] = {"model": model, "max_output_tokens": self.max_tokens, "stream": self.stream,
                                  "base_url": self.base_url, "tools": [t["name"] for t in tools] or None}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        return params

    def _contents(self, messages: list[dict[str, Any]], files: list[Any]) -> tuple[str | None, list[Any]]:
        from recorder.providers.wire import file_parts

        t = self._types
        system, contents, names = None, [], {}
        for m in messages:
            role = m["role"]
            if role == "system":
                system = m.get("content")
            elif role == "assistant":
                parts = [t.Part(text=m["content"])] if m.get("content") else []
                for c in m.get("tool_calls") or []:
                    names[c["id"]] = c["name"]
                    parts.append(t.Part(function_call=t.FunctionCall(id=c["id"], name=c["name"],
                                                                     args=c.get("arguments") or {})))
                contents.append(t.Content(role="model", parts=parts))
            elif role == "tool":
                part = t.Part(function_response=t.FunctionResponse(
                    id=m["tool_call_id"], name=names.get(m["tool_call_id"], "tool"), response={"output": m["content"]}))
                if contents and contents[-1].role == "user" and all(p.function_response for p in contents[-1].parts):
                    contents[-1].parts.append(part)
                else:
                    contents.append(t.Content(role="user", parts=[part]))
            else:
                parts = []
                for kind, f in file_parts(m.get("content"), files):
                    if kind == "text":
                        parts.append(t.Part(text=f))
                    elif f.url:
                        parts.append(t.Part.from_uri(file_uri=f.url, mime_type=f.media_type))
                    else:
                        parts.append(t.Part.from_bytes(data=f.read(), mime_type=f.media_type))
                contents.append(t.Content(role="user", parts=parts))
        return system, contents

    def _kwargs(self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], files: list[Any],
                timeout: float | None) -> dict[str, Any]:
        t = self._types
        system, contents = self._contents(messages, files)
        config: dict[str, Any] = {"max_output_tokens": self.max_tokens,
                                  "automatic_function_calling": t.AutomaticFunctionCallingConfig(disable=True)}
        if system:
            config["system_instruction"] = system
        if tools:
            config["tools"] = [t.Tool(function_declarations=[
                t.FunctionDeclaration(name=x["name"], description=x.get("description", ""),
                                      parameters_json_schema=x["parameters"]) for x in tools])]
        if self.temperature is not None:
            config["temperature"] = self.temperature
        if timeout is not None:
            config["http_options"] = t.HttpOptions(timeout=int(timeout * 1000), base_url=self.base_url)
        return {"model": model, "contents": contents, "config": t.GenerateContentConfig(**config)}

    def _send(self, kwargs: dict[str, Any]) -> Any:
        models = self.client.models
        return (models.generate_content_stream if self.stream else models.generate_content)(**kwargs)

    async def _asend(self, kwargs: dict[str, Any]) -> Any:
        models = self.client.aio.models
        return await (models.generate_content_stream if self.stream else models.generate_content)(**kwargs)

    def _parts(self, resp: Any, state: dict[str, Any]) -> None:
        for cand in (resp.candidates or [])[:1]:
            if cand.finish_reason is not None:
                state["stop"] = str(cand.finish_reason.value if hasattr(cand.finish_reason, "value")
                                    else cand.finish_reason)
            for p in (cand.content.parts if cand.content else None) or []:
                if p.text and not p.thought:
                    state["text"].append(p.text)
                if p.function_call:
                    fc = p.function_call
                    call_id = fc.id or f"call_{next(_ids)}"
                    state["calls"][len(state["calls"])] = {"id": call_id, "name": fc.name,
                                                           "arguments": dict(fc.args or {})}
        if resp.usage_metadata is not None:
            state["usage"] = _dump(resp.usage_metadata)
        state["model"] = resp.model_version or state["model"]

    def _from_response(self, resp: Any) -> Completion:
        state = self._new_state(resp.model_version or "")
        self._parts(resp, state)
        return self._finish(state)

    def _event(self, state: dict[str, Any], chunk: Any, on_first_token: Callable[[], None]) -> None:
        before = (len(state["text"]), len(state["calls"]))
        self._parts(chunk, state)
        if (len(state["text"]), len(state["calls"])) != before:
            self._first(state, on_first_token)

    def _finish(self, state: dict[str, Any]) -> Completion:
        raw = state.get("usage")
        usage, reason = extract({"modelVersion": state["model"], "usageMetadata": raw}, self.vendor_id, "default")
        calls = [c for _, c in sorted(state["calls"].items())]
        stop = "tool_calls" if calls else (state.get("stop") or "STOP").lower()
        return Completion(text="".join(state["text"]) or None, tool_calls=calls, stop_reason=stop, usage=usage,
                          raw_usage=raw, model=state["model"] or None, unpriced_reason=reason)
