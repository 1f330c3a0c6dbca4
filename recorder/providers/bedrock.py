"""``BedrockProvider``: AWS Bedrock's Converse API through ``boto3`` (optional).

The conversation becomes Converse ``messages`` (``text``, ``image``/``document``
blocks with bytes, ``toolUse`` blocks, ``toolResult`` blocks in a user turn) with
the system prompt as ``system`` and tools as ``toolConfig``. Streams by default
with ``converse_stream`` (AWS event stream; time to first token is the first
content delta; usage arrives in the final ``metadata`` event). Usage is read by
genai-prices' Bedrock extractor, which adds cache reads and writes (5-minute and
1-hour from ``cacheDetails``) to ``inputTokens`` as the design's convention wants;
models are priced under provider ``aws`` (``us.``/``global.`` inference profiles
included). boto3 has no async client and no per-call timeout: ``acomplete`` runs the
same call in a worker thread, and a client is kept per read timeout (botocore's
read timeout becomes ``TimeoutError``). Credentials come from boto3's usual chain
(environment, profile, role) and are never part of ``request_params``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from recorder.providers.base import Completion
from recorder.providers.sdk import SDKProvider
from recorder.providers.usage import extract
from recorder.providers.wire import file_parts, parse_args

_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif", "image/webp": "webp",
            "application/pdf": "pdf", "text/csv": "csv", "text/plain": "txt", "text/html": "html",
            "text/markdown": "md"}


def wire(messages: list[dict[str, Any]], files: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for m in messages:
        role = m["role"]
        if role == "system":
            if m.get("content"):
                system.append({"text": m["content"]})
        elif role == "tool":
            block = {"toolResult": {"toolUseId": m["tool_call_id"], "content": [{"text": str(m["content"])}]}}
            if out and out[-1]["role"] == "user" and all("toolResult" in b for b in out[-1]["content"]):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
        elif role == "assistant":
            blocks: list[dict[str, Any]] = [{"text": m["content"]}] if m.get("content") else []
            for c in m.get("tool_calls") or []:
                blocks.append({"toolUse": {"toolUseId": c["id"], "name": c["name"], "input": c.get("arguments") or {}}})
            out.append({"role": "assistant", "content": blocks})
        else:
            parts: list[dict[str, Any]] = []
            for kind, f in file_parts(m.get("content"), files):
                if kind == "text":
                    parts.append({"text": f})
                elif f.url:
                    parts.append({"text": f"[file {f.filename}: {f.url}]"})  # Converse takes bytes or S3 only
                elif f.media_type.startswith("image/"):
                    parts.append({"image": {"format": _FORMATS.get(f.media_type, "png"),
                                            "source": {"bytes": f.read()}}})
                else:
                    name = "".join(ch if ch.isalnum() else "-" for ch in f.filename)[:200] or "document"
                    parts.append({"document": {"format": _FORMATS.get(f.media_type, "txt"), "name": name,
                                               "source": {"bytes": f.read()}}})
            out.append({"role": "user", "content": parts})
    return system, out


class BedrockProvider(SDKProvider):
    name = "bedrock"

    def __init__(self, *, region_name: str | None = None, endpoint_url: str | None = None, client: Any = None,
                 stream: bool = True, max_tokens: int = 1024, temperature: float | None = None,
                 vendor_id: str = "aws", **session: Any):
        import boto3  # optional dependency: pip install boto3
        from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

        self._boto3, self._session = boto3, session
        self._timeout_errors = (ReadTimeoutError, ConnectTimeoutError)
        self.region_name, self.endpoint_url = region_name, endpoint_url
        self._clients: dict[float | None, Any] = {None: client} if client is not None else {}
        self.stream, self.max_tokens, self.temperature, self.vendor_id = stream, max_tokens, temperature, vendor_id

    def _client(self, timeout: float | None) -> Any:
        if timeout in self._clients:
            return self._clients[timeout]
        if None in self._clients and not self._session and self.endpoint_url is None and self.region_name is None:
            return self._clients[None]  # a client the caller built: its own configuration
        from botocore.config import Config

        config = Config(retries={"max_attempts": 1, "mode": "standard"},
                        **({"read_timeout": timeout, "connect_timeout": min(timeout, 10)} if timeout else {}))
        c = self._boto3.client("bedrock-runtime", region_name=self.region_name, endpoint_url=self.endpoint_url,
                               config=config, **self._session)
        self._clients[timeout] = c
        return c

    def vendor(self, model: str) -> str:
        return self.vendor_id

    def request_params(self, model: str, tools: list[dict[str, Any]]) -> dict[str, Any]:
        params: dict[str, Any] = {"model": model, "maxTokens": self.max_tokens, "stream": self.stream,
                                  "region": self.region_name, "endpoint_url": self.endpoint_url,
                                  "tools": [t["name"] for t in tools] or None}
        if self.temperature is not None:
            params["temperature"] = self.temperature
        return params

    def _kwargs(self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], files: list[Any],
                timeout: float | None) -> dict[str, Any]:
        system, msgs = wire(messages, files)
        inference: dict[str, Any] = {"maxTokens": self.max_tokens}
        if self.temperature is not None:
            inference["temperature"] = self.temperature
        kw: dict[str, Any] = {"modelId": model, "messages": msgs, "inferenceConfig": inference, "_timeout": timeout}
        if system:
            kw["system"] = system
        if tools:
            kw["toolConfig"] = {"tools": [{"toolSpec": {"name": t["name"], "description": t.get("description") or
                                                        t["name"], "inputSchema": {"json": t["parameters"]}}}
                                          for t in tools]}
        return kw

    def _send(self, kwargs: dict[str, Any]) -> Any:
        kwargs = dict(kwargs)
        client = self._client(kwargs.pop("_timeout"))
        if not self.stream:
            return {**client.converse(**kwargs), "modelId": kwargs["modelId"]}  # Converse does not echo it
        return client.converse_stream(**kwargs)["stream"]

    async def acomplete(self, **kw: Any) -> Completion:
        return await asyncio.to_thread(self.complete, **kw)  # boto3 is synchronous: the same path, in a thread

    def _from_response(self, resp: Any) -> Completion:
        state = self._new_state(resp.get("modelId") or "")
        for block in resp.get("output", {}).get("message", {}).get("content", []):
            if "text" in block:
                state["text"].append(block["text"])
            elif "toolUse" in block:
                tu = block["toolUse"]
                state["calls"][len(state["calls"])] = {"id": tu["toolUseId"], "name": tu["name"],
                                                       "arguments": tu.get("input") or {}, "json": None}
        state["stop"], state["usage"] = resp.get("stopReason"), resp.get("usage")
        return self._finish(state)

    def _event(self, state: dict[str, Any], ev: Any, on_first_token: Callable[[], None]) -> None:
        if "contentBlockStart" in ev:
            start = ev["contentBlockStart"]
            tu = start.get("start", {}).get("toolUse")
            if tu:
                state["calls"][start["contentBlockIndex"]] = {"id": tu["toolUseId"], "name": tu["name"], "json": []}
        elif "contentBlockDelta" in ev:
            self._first(state, on_first_token)
            d = ev["contentBlockDelta"]
            delta = d.get("delta", {})
            if "text" in delta:
                state["text"].append(delta["text"])
            elif "toolUse" in delta:
                state["calls"][d["contentBlockIndex"]]["json"].append(delta["toolUse"].get("input", ""))
        elif "messageStop" in ev:
            state["stop"] = ev["messageStop"].get("stopReason")
        elif "metadata" in ev:
            state["usage"] = ev["metadata"].get("usage")

    def _finish(self, state: dict[str, Any]) -> Completion:
        calls = [{"id": c["id"], "name": c["name"],
                  "arguments": c["arguments"] if c.get("json") is None else parse_args("".join(c["json"]))}
                 for _, c in sorted(state["calls"].items())]
        raw = state.get("usage")
        usage, reason = extract({"model": state["model"], "usage": raw}, self.vendor_id, "default")
        return Completion(text="".join(state["text"]) or None, tool_calls=calls, stop_reason=state.get("stop"),
                          usage=usage, raw_usage=raw, model=state["model"] or None, unpriced_reason=reason)
