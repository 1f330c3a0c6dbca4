"""A loopback HTTP server that answers in the OpenAI (Chat Completions and Responses) and
Anthropic wire formats.

The tests point the real SDK clients at it (``base_url``); nothing is monkeypatched.
Each endpoint plays a script of turns (a tool call, then a text answer), streamed
(SSE) or not, as the request asks, with the usage fields each provider reports.
It records every request (headers and body) for assertions.
"""

from __future__ import annotations

import json
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeLLM:
    def __init__(self) -> None:
        self.script: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.first_token_delay = 0.05
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "body": body,
                                      "headers": {k.lower(): v for k, v in self.headers.items()}})
                turn = fake.script.pop(0)
                if self.path.endswith("/chat/completions"):
                    fake._openai(self, body, turn)
                elif self.path.endswith("/messages"):
                    fake._anthropic(self, body, turn)
                elif self.path.endswith("/responses"):
                    fake._responses(self, body, turn)
                elif self.path.endswith("/converse") or self.path.endswith("/converse-stream"):
                    fake._bedrock(self, body, turn, stream=self.path.endswith("-stream"))
                elif ":generateContent" in self.path or ":streamGenerateContent" in self.path:
                    fake._gemini(self, body, turn, stream=":stream" in self.path)
                else:
                    self.send_error(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # ---- helpers ----------------------------------------------------------
    @staticmethod
    def _json(h: BaseHTTPRequestHandler, obj: Any) -> None:
        data = json.dumps(obj).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _sse(self, h: BaseHTTPRequestHandler, events: list[tuple[str | None, Any]]) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.end_headers()
        for i, (name, data) in enumerate(events):
            if i == 1:
                time.sleep(self.first_token_delay)  # a measurable time to first token
            payload = data if isinstance(data, str) else json.dumps(data)
            h.wfile.write(((f"event: {name}\n" if name else "") + f"data: {payload}\n\n").encode())
            h.wfile.flush()
        h.close_connection = True

    # ---- OpenAI Chat Completions ------------------------------------------
    def _openai(self, h: BaseHTTPRequestHandler, body: dict[str, Any], turn: dict[str, Any]) -> None:
        u = turn.get("usage")
        if "raw_usage" in turn:  # a usage body as a vendor sends it (None: no usage at all)
            usage = turn["raw_usage"]
        else:
            usage = {"prompt_tokens": u["prompt"], "completion_tokens": u["completion"],
                     "total_tokens": u["prompt"] + u["completion"],
                     "prompt_tokens_details": {"cached_tokens": u.get("cached", 0)},
                     "completion_tokens_details": {"reasoning_tokens": u.get("reasoning", 0)}}
        base = {"id": "chatcmpl-1", "created": 1_700_000_000, "model": body["model"]}
        if turn.get("service_tier"):
            base["service_tier"] = turn["service_tier"]
        tool = turn.get("tool")
        if not body.get("stream"):
            msg: dict[str, Any] = {"role": "assistant", "content": turn.get("text")}
            if tool:
                msg["tool_calls"] = [{"id": tool["id"], "type": "function",
                                      "function": {"name": tool["name"], "arguments": json.dumps(tool["args"])}}]
            self._json(h, {**base, "object": "chat.completion", **({"usage": usage} if usage else {}), "choices": [
                {"index": 0, "message": msg, "finish_reason": "tool_calls" if tool else "stop"}]})
            return
        chunk = {**base, "object": "chat.completion.chunk"}
        events: list[tuple[str | None, Any]] = [
            (None, {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                          "finish_reason": None}]})]
        if tool:
            args = json.dumps(tool["args"])
            events.append((None, {**chunk, "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "id": tool["id"], "type": "function",
                 "function": {"name": tool["name"], "arguments": args[:5]}}]}, "finish_reason": None}]}))
            events.append((None, {**chunk, "choices": [{"index": 0, "delta": {"tool_calls": [
                {"index": 0, "function": {"arguments": args[5:]}}]}, "finish_reason": None}]}))
        else:
            text = turn["text"]
            for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                events.append((None, {**chunk, "choices": [{"index": 0, "delta": {"content": piece},
                                                            "finish_reason": None}]}))
        events.append((None, {**chunk, "choices": [{"index": 0, "delta": {},
                                                    "finish_reason": "tool_calls" if tool else "stop"}]}))
        if usage is not None:
            events.append((None, {**chunk, "choices": [], "usage": usage}))
        events.append((None, "[DONE]"))
        self._sse(h, events)

    # ---- Anthropic Messages -----------------------------------------------
    def _anthropic(self, h: BaseHTTPRequestHandler, body: dict[str, Any], turn: dict[str, Any]) -> None:
        u = turn["usage"]
        usage = {"input_tokens": u["input"], "output_tokens": u["output"],
                 "cache_creation_input_tokens": u.get("cache_creation", 0),
                 "cache_read_input_tokens": u.get("cache_read", 0)}
        usage.update(turn.get("usage_extra", {}))  # cache_creation (5m/1h), server_tool_use, service_tier
        tool = turn.get("tool")
        stop = "tool_use" if tool else "end_turn"
        content = ([{"type": "text", "text": turn["text"]}] if turn.get("text") else []) + (
            [{"type": "tool_use", "id": tool["id"], "name": tool["name"], "input": tool["args"]}] if tool else [])
        msg = {"id": "msg_1", "type": "message", "role": "assistant", "model": body["model"]}
        if not body.get("stream"):
            self._json(h, {**msg, "content": content, "stop_reason": stop, "stop_sequence": None, "usage": usage})
            return
        events: list[tuple[str | None, Any]] = [("message_start", {"type": "message_start", "message": {
            **msg, "content": [], "stop_reason": None, "stop_sequence": None, "usage": {**usage, "output_tokens": 1}}})]
        for i, block in enumerate(content):
            if block["type"] == "text":
                events.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                       "content_block": {"type": "text", "text": ""}}))
                events.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "text_delta", "text": block["text"]}}))
            else:
                events.append(("content_block_start", {"type": "content_block_start", "index": i, "content_block": {
                    "type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}}))
                args = json.dumps(block["input"])
                for piece in (args[:4], args[4:]):
                    events.append(("content_block_delta", {"type": "content_block_delta", "index": i,
                                                           "delta": {"type": "input_json_delta",
                                                                     "partial_json": piece}}))
            events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
        events.append(("message_delta", {"type": "message_delta", "delta": {"stop_reason": stop,
                                                                             "stop_sequence": None},
                                         "usage": {"output_tokens": u["output"]}}))
        events.append(("message_stop", {"type": "message_stop"}))
        self._sse(h, events)

    # ---- OpenAI Responses ---------------------------------------------------
    def _responses(self, h: BaseHTTPRequestHandler, body: dict[str, Any], turn: dict[str, Any]) -> None:
        usage = turn.get("raw_usage")
        tool = turn.get("tool")
        if tool:
            item: dict[str, Any] = {"type": "function_call", "id": "fc_1", "call_id": tool["id"], "name": tool["name"],
                                    "arguments": json.dumps(tool["args"]), "status": "completed"}
        else:
            item = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                    "content": [{"type": "output_text", "text": turn["text"], "annotations": []}]}
        resp: dict[str, Any] = {"id": "resp_1", "object": "response", "created_at": 1_700_000_000,
                                "model": body["model"], "status": "completed", "output": [item],
                                "parallel_tool_calls": True, "tool_choice": "auto", "tools": []}
        if usage is not None:
            resp["usage"] = usage
        if turn.get("service_tier"):
            resp["service_tier"] = turn["service_tier"]
        if not body.get("stream"):
            self._json(h, resp)
            return
        started = {**resp, "status": "in_progress", "output": []}
        started.pop("usage", None)
        events: list[tuple[str | None, Any]] = [("response.created", {"type": "response.created",
                                                                      "sequence_number": 0, "response": started})]
        events.append(("response.output_item.added", {"type": "response.output_item.added", "sequence_number": 1,
                                                      "output_index": 0, "item": {**item, "status": "in_progress"}}))
        if tool:
            args = item["arguments"]
            for n, piece in enumerate((args[:5], args[5:])):
                events.append(("response.function_call_arguments.delta", {
                    "type": "response.function_call_arguments.delta", "sequence_number": 2 + n, "item_id": "fc_1",
                    "output_index": 0, "delta": piece}))
        else:
            text = turn["text"]
            for n, piece in enumerate((text[: len(text) // 2], text[len(text) // 2 :])):
                events.append(("response.output_text.delta", {
                    "type": "response.output_text.delta", "sequence_number": 2 + n, "item_id": "msg_1",
                    "output_index": 0, "content_index": 0, "delta": piece, "logprobs": []}))
        events.append(("response.output_item.done", {"type": "response.output_item.done", "sequence_number": 4,
                                                     "output_index": 0, "item": item}))
        events.append(("response.completed", {"type": "response.completed", "sequence_number": 5,
                                               "response": resp}))
        self._sse(h, events)

    # ---- Google Gemini (generateContent / streamGenerateContent?alt=sse) -----
    def _gemini(self, h: BaseHTTPRequestHandler, body: dict[str, Any], turn: dict[str, Any], stream: bool) -> None:
        usage = turn.get("raw_usage")
        tool = turn.get("tool")
        model = h.path.split("/models/")[1].split(":")[0]
        parts = ([{"functionCall": {"name": tool["name"], "args": tool["args"], **(
            {"id": tool["id"]} if tool.get("id") else {})}}] if tool else [{"text": turn["text"]}])
        final = {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                 "modelVersion": model, "responseId": "r-1"}
        if usage is not None:
            final["usageMetadata"] = usage
        if not stream:
            self._json(h, final)
            return
        events: list[tuple[str | None, Any]] = []
        if not tool:  # text arrives in two chunks; usage (cumulative) rides on the last
            text = turn["text"]
            events.append((None, {"candidates": [{"content": {"role": "model", "parts": [
                {"text": text[: len(text) // 2]}]}, "index": 0}], "modelVersion": model}))
            final["candidates"][0]["content"]["parts"] = [{"text": text[len(text) // 2 :]}]
        events.append((None, final))
        self._sse(h, events)

    # ---- AWS Bedrock Converse (JSON, and the binary AWS event stream) --------
    @staticmethod
    def _event_message(event_type: str, payload: dict[str, Any]) -> bytes:
        """One message of the AWS event stream encoding (prelude, headers, payload, CRC32s)."""
        headers = b""
        for name, value in ((":event-type", event_type), (":content-type", "application/json"),
                            (":message-type", "event")):
            v = value.encode()
            headers += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(v)) + v
        body = json.dumps(payload).encode()
        total = 12 + len(headers) + len(body) + 4
        prelude = struct.pack(">II", total, len(headers))
        message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + body
        return message + struct.pack(">I", zlib.crc32(message))

    def _bedrock(self, h: BaseHTTPRequestHandler, body: dict[str, Any], turn: dict[str, Any], stream: bool) -> None:
        usage = turn.get("raw_usage")
        tool = turn.get("tool")
        stop = "tool_use" if tool else "end_turn"
        content = ([{"toolUse": {"toolUseId": tool["id"], "name": tool["name"], "input": tool["args"]}}] if tool
                   else [{"text": turn["text"]}])
        if not stream:
            resp: dict[str, Any] = {"output": {"message": {"role": "assistant", "content": content}},
                                    "stopReason": stop, "metrics": {"latencyMs": 12}}
            if usage is not None:
                resp["usage"] = usage
            self._json(h, resp)
            return
        events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
        if tool:
            events.append(("contentBlockStart", {"contentBlockIndex": 0, "start": {
                "toolUse": {"toolUseId": tool["id"], "name": tool["name"]}}}))
            args = json.dumps(tool["args"])
            for piece in (args[:5], args[5:]):
                events.append(("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"toolUse": {"input": piece}}}))
        else:
            text = turn["text"]
            for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                events.append(("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}}))
        events.append(("contentBlockStop", {"contentBlockIndex": 0}))
        events.append(("messageStop", {"stopReason": stop}))
        events.append(("metadata", {"usage": usage or {}, "metrics": {"latencyMs": 12}} if usage is not None
                       else {"metrics": {"latencyMs": 12}}))
        h.send_response(200)
        h.send_header("Content-Type", "application/vnd.amazon.eventstream")
        h.end_headers()
        for i, (name, payload) in enumerate(events):
            if i == 1:
                time.sleep(self.first_token_delay)
            h.wfile.write(self._event_message(name, payload))
            h.wfile.flush()
        h.close_connection = True
