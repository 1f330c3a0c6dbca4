"""The spans of one trace to invocations and rounds (GenAI semantic conventions and OpenInference).

A model-call span (``gen_ai.operation.name`` chat / generate_content / text_completion,
or OpenInference kind ``LLM``) is a round; an ``invoke_agent`` span (OpenInference
``AGENT``) is an invocation holding the model calls beneath it; model calls with no
agent above them make one invocation per root span. ``execute_tool`` / ``TOOL`` spans
become the tool calls of the round that asked for them (by ``gen_ai.tool.call.id``,
else the latest round that ended before the tool started). Usage is read per model
call only: an agent span's aggregated usage is never added on top (no double counting).
Token convention: ``input_tokens`` includes cached tokens; a source whose cache counts
exceed its input (the Anthropic way) has them added. docs/otel.md lists every field.
This module is pure: no I/O, no clock; ``recorder.otel.write`` records what it returns.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import orjson

from recorder.otel.spans import ERROR, Span

MODEL_OPS = frozenset({"chat", "generate_content", "text_completion"})
_PROVIDERS = {"gcp.gemini": "google", "gcp.vertex_ai": "google", "gcp.gen_ai": "google", "aws.bedrock": "aws",
              "azure.ai.openai": "azure", "azure.ai.inference": "azure", "x_ai": "x-ai"}
_REPORTED = ("gen_ai.usage.cost", "operation.cost", "llm.cost.total")
_USAGE_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens",
               "gen_ai.usage.completion_tokens", "llm.token_count.prompt", "llm.token_count.completion")


@dataclass(slots=True)
class RoundDraft:
    span: Span
    model: str
    provider: str | None
    messages: list[Any] | None
    text: str | None
    tool_calls: list[dict[str, Any]] | None
    stop_reason: str | None
    usage: dict[str, int]
    has_usage: bool
    ttft_ms: float | None
    request_params: dict[str, Any] | None
    reported_cost: str | None
    status: str
    error_type: str | None
    error_message: str | None
    tools: list[tuple[Span, dict[str, Any]]] = field(default_factory=list)  # (tool span, its call)


@dataclass(slots=True)
class InvocationDraft:
    trace_id: str
    root: Span  # the agent span, or the trace's root
    agent: str
    provider: str
    model: str
    trigger: str
    user_id: str | None
    task_id: str | None
    session_id: str | None
    prompt_name: str | None
    prompt_version: str | None
    system_prompt: str | None
    user_message: str | None
    response: str | None
    variables: dict[str, Any] | None
    status: str
    error_type: str | None
    error_message: str | None
    rounds: list[RoundDraft]
    incomplete: bool = False  # recorded without all of its trace's spans (set by the assembler)


def kind(span: Span) -> str | None:
    """``model``, ``agent``, ``tool`` or None (a span the mapping only walks through)."""
    a = span.attributes
    op = a.get("gen_ai.operation.name")
    oi = a.get("openinference.span.kind")
    if op in MODEL_OPS or oi == "LLM":
        return "model"
    if op in ("invoke_agent", "create_agent") or oi == "AGENT":
        return "agent" if op != "create_agent" else None
    if op == "execute_tool" or oi == "TOOL":
        return "tool"
    return None


def map_trace(spans: list[Span]) -> list[InvocationDraft]:
    """The invocations in one trace's spans (any order); empty when it holds no model call."""
    by_id = {s.span_id: s for s in spans}
    kinds = {s.span_id: kind(s) for s in spans}

    owners: dict[str, str] = {}

    def owner(s: Span) -> str:
        """The nearest agent span above ``s``, else its root (cycles and missing parents end the walk)."""
        found = owners.get(s.span_id)
        if found is not None:
            return found
        cur, seen = s, {s.span_id}
        while cur.parent_id and cur.parent_id in by_id and cur.parent_id not in seen:
            cur = by_id[cur.parent_id]
            seen.add(cur.span_id)
            if kinds[cur.span_id] == "agent":
                break
        owners[s.span_id] = cur.span_id
        return cur.span_id

    groups: dict[str, list[Span]] = {}
    tools: dict[str, list[Span]] = {}
    members: dict[str, list[Span]] = {}
    for s in sorted(spans, key=lambda x: (x.start_ns, x.span_id)):
        k = kinds[s.span_id]
        o = owner(s)
        members.setdefault(o, []).append(s)
        if k == "model":
            groups.setdefault(o, []).append(s)
        elif k == "tool":
            tools.setdefault(o, []).append(s)
    out = []
    for root_id, calls in groups.items():
        rounds = [_round(s) for s in calls]
        _attach_tools(rounds, tools.get(root_id, []))
        out.append(_invocation(by_id[root_id], rounds, members.get(root_id, [])))
    return out


def _first(attrs: dict[str, Any], *names: str) -> Any:
    for n in names:
        v = attrs.get(n)
        if v not in (None, ""):
            return v
    return None


def _int(v: Any) -> int:
    if type(v) is int:  # the common case first
        return v
    if isinstance(v, bool) or v is None:
        return 0
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and v.strip().isdigit():
        return int(v)
    raise ValueError(f"token count: expected an integer, got {v!r}")


def _json(v: Any) -> Any:
    if isinstance(v, str) and v[:1] in ("{", "[", '"'):
        try:
            return orjson.loads(v)
        except orjson.JSONDecodeError:
            return v
    return v


def provider_of(attrs: dict[str, Any]) -> str | None:
    p = _first(attrs, "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
    if not isinstance(p, str):
        return None
    p = p.lower()
    return _PROVIDERS.get(p, p)


_USAGE_SET = frozenset(_USAGE_KEYS)


def _usage(a: dict[str, Any]) -> tuple[dict[str, int], bool]:
    get = a.get
    if "gen_ai.usage.input_tokens" in a:  # the current semantic conventions (the common case, read directly)
        i, o = _int(a["gen_ai.usage.input_tokens"]), _int(get("gen_ai.usage.output_tokens"))
        cr = _int(get("gen_ai.usage.cache_read.input_tokens") or get("gen_ai.usage.cache_read_input_tokens"))
        cw = _int(get("gen_ai.usage.cache_write.input_tokens") or get("gen_ai.usage.cache_creation.input_tokens")
                  or get("gen_ai.usage.cache_creation_input_tokens"))
        r = _int(get("gen_ai.usage.reasoning.output_tokens"))
    elif _USAGE_SET.isdisjoint(a):
        return {"input_tokens": 0, "output_tokens": 0}, False
    else:
        i = _int(_first(a, "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"))
        o = _int(_first(a, "gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens",
                        "llm.token_count.completion"))
        cr = _int(_first(a, "gen_ai.usage.cache_read.input_tokens", "llm.token_count.prompt_details.cache_read"))
        cw = _int(_first(a, "gen_ai.usage.cache_write.input_tokens", "gen_ai.usage.cache_creation.input_tokens",
                         "llm.token_count.prompt_details.cache_write"))
        r = _int(_first(a, "gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning"))
    if cr + cw > i:  # the source counted input without its cache tokens (Anthropic's way): ours includes them
        i += cr + cw
    if r > o:
        o += r
    usage = {"input_tokens": i, "output_tokens": o}
    if cr:
        usage["cache_read_tokens"] = cr
    if cw:
        usage["cache_write_tokens"] = cw
    if r:
        usage["reasoning_tokens"] = r
    return usage, True


def _parts_message(m: Any) -> Any:
    """A GenAI-semconv message (role + parts) in the chat shape the trace page reads."""
    if not isinstance(m, dict) or "parts" not in m:
        return m
    text, calls, out = [], [], {"role": m.get("role")}
    for p in m.get("parts") or []:
        if not isinstance(p, dict):
            continue
        t = p.get("type")
        if t == "text" or (t is None and "content" in p):
            text.append(str(p.get("content", "")))
        elif t == "tool_call":
            calls.append({"id": p.get("id"), "type": "function", "function": {
                "name": p.get("name"), "arguments": json.dumps(p.get("arguments"))
                if not isinstance(p.get("arguments"), str) else p.get("arguments")}})
        elif t == "tool_call_response":
            out.update(role="tool", tool_call_id=p.get("id"))
            resp = p.get("response")
            text.append(resp if isinstance(resp, str) else json.dumps(resp))
        else:
            text.append(json.dumps(p))
    out["content"] = "\n".join(text) if text else None
    if calls:
        out["tool_calls"] = calls
    return out


def _oi_messages(a: dict[str, Any], prefix: str) -> list[dict[str, Any]] | None:
    """OpenInference's flattened ``llm.input_messages.N.message.*`` attributes, back to a list."""
    found: dict[int, dict[str, Any]] = {}
    head = prefix + "."
    for k, v in a.items():
        if not k.startswith(head):
            continue
        idx, _, rest = k[len(head):].partition(".")
        if not idx.isdigit():
            continue
        m = found.setdefault(int(idx), {})
        if rest == "message.role":
            m["role"] = v
        elif rest == "message.content":
            m["content"] = v
        elif rest.startswith("message.tool_calls."):
            n, _, field_ = rest[len("message.tool_calls."):].partition(".")
            if n.isdigit():
                calls = m.setdefault("_calls", {})
                c = calls.setdefault(int(n), {"type": "function", "function": {}})
                if field_ == "tool_call.id":
                    c["id"] = v
                elif field_ == "tool_call.function.name":
                    c["function"]["name"] = v
                elif field_ == "tool_call.function.arguments":
                    c["function"]["arguments"] = v
        elif rest == "message.tool_call_id":
            m["tool_call_id"] = v
    if not found:
        return None
    out = []
    for _, m in sorted(found.items()):
        calls = m.pop("_calls", None)
        if calls:
            m["tool_calls"] = [c for _, c in sorted(calls.items())]
        out.append(m)
    return out


_EVENT_ROLES = {"gen_ai.system.message": "system", "gen_ai.user.message": "user",
                "gen_ai.assistant.message": "assistant", "gen_ai.tool.message": "tool"}


def _event_messages(s: Span) -> tuple[list[Any] | None, list[Any] | None]:
    """Messages from the older per-message span events: ``gen_ai.{system,user,assistant,tool}.message`` and
    ``gen_ai.choice`` (content in ``content`` or ``gen_ai.event.content``), or ``gen_ai.content.prompt`` /
    ``gen_ai.content.completion`` (a JSON list in ``gen_ai.prompt`` / ``gen_ai.completion``)."""
    ins: list[Any] = []
    outs: list[Any] = []
    for name, _, attrs in s.events:
        if name == "gen_ai.content.prompt":
            v = _json(attrs.get("gen_ai.prompt"))
            ins.extend(v if isinstance(v, list) else [{"role": "user", "content": v}])
        elif name == "gen_ai.content.completion":
            v = _json(attrs.get("gen_ai.completion"))
            outs.extend(v if isinstance(v, list) else [{"role": "assistant", "content": v}])
        elif name in _EVENT_ROLES or name == "gen_ai.choice":
            body = _json(attrs.get("gen_ai.event.content") or attrs.get("message") or attrs.get("content"))
            msg = dict(body) if isinstance(body, dict) else {"content": body}
            msg.setdefault("role", _EVENT_ROLES.get(name, "assistant"))
            if "id" in attrs and msg["role"] == "tool":
                msg.setdefault("tool_call_id", attrs["id"])
            (outs if name == "gen_ai.choice" else ins).append(msg)
    return ins or None, outs or None


def _flat_messages(a: dict[str, Any], prefix: str) -> list[dict[str, Any]] | None:
    """OpenLLMetry's ``gen_ai.prompt.N.role`` / ``.content`` (and ``gen_ai.completion.N.*``) attributes."""
    head = prefix + "."
    found: dict[int, dict[str, Any]] = {}
    for k, v in a.items():
        if k.startswith(head):
            idx, _, field_ = k[len(head):].partition(".")
            if idx.isdigit() and field_ in ("role", "content", "tool_call_id"):
                found.setdefault(int(idx), {})[field_] = v
    return [m for _, m in sorted(found.items())] or None


def _round(s: Span) -> RoundDraft:
    a = s.attributes
    usage, has = s.usage or _usage(a)
    msgs = _json(a.get("gen_ai.input.messages"))
    messages = [_parts_message(m) for m in msgs] if isinstance(msgs, list) else (
        _oi_messages(a, "llm.input_messages") or _flat_messages(a, "gen_ai.prompt"))
    system = _json(a.get("gen_ai.system_instructions"))
    if system and messages is not None:
        sys_text = "\n".join(p.get("content", "") for p in system if isinstance(p, dict)) if isinstance(
            system, list) else str(system)
        messages = [{"role": "system", "content": sys_text}, *messages]
    outs = _json(a.get("gen_ai.output.messages"))
    outputs = [_parts_message(m) for m in outs] if isinstance(outs, list) else (
        _oi_messages(a, "llm.output_messages") or _flat_messages(a, "gen_ai.completion"))
    if messages is None and outputs is None and s.events:  # an instrumentation that still sends events
        messages, outputs = _event_messages(s)
    text_parts, calls = [], []
    for m in outputs or []:
        if isinstance(m, dict):
            if m.get("content"):
                text_parts.append(str(m["content"]))
            for c in m.get("tool_calls") or []:
                fn = c.get("function") or {}
                calls.append({"id": c.get("id"), "name": fn.get("name"), "arguments": _json(fn.get("arguments"))})
    finish = _first(a, "gen_ai.response.finish_reasons", "llm.finish_reason")
    if isinstance(finish, list | tuple):
        finish = finish[0] if finish else None
    ttft = a.get("gen_ai.response.time_to_first_chunk")
    if ttft is None:
        first = next((t for n, t, _ in s.events if n.lower().startswith("first token")), None)
        ttft_ms = (first - s.start_ns) / 1e6 if first else None
    else:
        ttft_ms = float(ttft) * 1000
    params = {k[len("gen_ai.request."):]: v for k, v in a.items() if k.startswith("gen_ai.request.")}
    if not params and isinstance(_json(a.get("llm.invocation_parameters")), dict):
        params = _json(a["llm.invocation_parameters"])
    tools = _json(a.get("gen_ai.tool.definitions"))
    if tools is None and "llm.tools.0.tool.json_schema" in a:  # OpenInference: llm.tools.N.tool.json_schema
        tools = [_json(a[f"llm.tools.{n}.tool.json_schema"]) for n in range(1000)
                 if f"llm.tools.{n}.tool.json_schema" in a]
    if tools:
        params = {**(params or {}), "tools": tools}  # what the model was offered, beside the parameters
    reported = _first(a, *_REPORTED)
    status, etype, emsg = _status(s)
    model = _first(a, "gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
    return RoundDraft(
        span=s, model=str(model) if model else "unknown", provider=provider_of(a), messages=messages,
        text="".join(text_parts) or None, tool_calls=calls or None, stop_reason=str(finish) if finish else None,
        usage=usage, has_usage=has, ttft_ms=ttft_ms, request_params=params or None,
        reported_cost=str(reported) if isinstance(reported, int | float | str) and not isinstance(
            reported, bool) else None, status=status, error_type=etype, error_message=emsg)


def _status(s: Span) -> tuple[str, str | None, str | None]:
    etype = s.attributes.get("error.type")
    if s.status != ERROR and not etype:
        return "Success", None, None
    etype = str(etype or "Error")
    return ("Timeout" if "timeout" in etype.lower() else "Failed"), etype, s.status_message


def _attach_tools(rounds: list[RoundDraft], tool_spans: list[Span]) -> None:
    by_call = {c["id"]: (r, c) for r in rounds for c in r.tool_calls or [] if c.get("id")}
    for t in tool_spans:
        a = t.attributes
        call_id = a.get("gen_ai.tool.call.id") or a.get("tool_call.id")
        args = _json(_first(a, "gen_ai.tool.call.arguments", "input.value"))
        result = _json(_first(a, "gen_ai.tool.call.result", "output.value"))
        name = _first(a, "gen_ai.tool.name", "tool.name") or t.name
        if call_id in by_call:
            r, c = by_call[call_id]
        else:  # no id to match: the latest round that ended before the tool started
            found = next((x for x in reversed(rounds) if x.span.end_ns <= t.start_ns), rounds[-1] if rounds else None)
            if found is None:
                continue
            r, c = found, {"id": call_id, "name": name, "arguments": args}
            r.tool_calls = [*(r.tool_calls or []), c]
        c["result"] = result
        if t.status == ERROR:
            c["error"] = t.status_message or str(a.get("error.type") or "error")
        c["started_us"] = max(0, (t.start_ns - r.span.start_ns) // 1000)
        c["duration_us"] = max(0, (t.end_ns - t.start_ns) // 1000)
        r.tools.append((t, c))


def _invocation(root: Span, rounds: list[RoundDraft], members: list[Span]) -> InvocationDraft:
    ra = root.attributes
    first = rounds[0]

    found: dict[str, Any] = {}  # the invocation-level attributes, the root's first: one pass over the spans
    for s in (root, *members):
        a = s.attributes
        for name in _INVOCATION_ATTRS.intersection(a):
            if name not in found and a[name] not in (None, ""):
                found[name] = a[name]

    def look(*names: str) -> Any:
        return next((found[n] for n in names if n in found), None)

    agent = _first(ra, "gen_ai.agent.name", "agent.name") or look("gen_ai.agent.name") or root.resource.get(
        "service.name") or root.name or "otel"
    user_msg = next((m.get("content") for m in first.messages or [] if isinstance(m, dict)
                     and m.get("role") == "user" and isinstance(m.get("content"), str)), None)
    system = next((m.get("content") for m in first.messages or [] if isinstance(m, dict)
                   and m.get("role") in ("system", "developer") and isinstance(m.get("content"), str)), None)
    status, etype, emsg = _status(root)
    if status == "Success" and rounds[-1].status != "Success":
        status, etype, emsg = rounds[-1].status, rounds[-1].error_type, rounds[-1].error_message
    variables = _json(look("llm.prompt_template.variables"))
    return InvocationDraft(
        trace_id=root.trace_id, root=root, agent=str(agent), provider=first.provider or "unknown",
        model=first.model, trigger=str(look("invlog.trigger") or "user"),
        user_id=_str(look("user.id", "enduser.id")), task_id=_str(look("invlog.task_id")),
        session_id=_str(look("gen_ai.conversation.id", "session.id")),
        prompt_name=_str(look("gen_ai.prompt.name")),
        prompt_version=_str(look("gen_ai.prompt.version", "llm.prompt_template.version")),
        system_prompt=system, user_message=user_msg,
        response=next((r.text for r in reversed(rounds) if r.text), None),
        variables=variables if isinstance(variables, dict) else None,
        status=status, error_type=etype, error_message=emsg, rounds=rounds)


def _str(v: Any) -> str | None:
    return None if v is None else str(v)


_INVOCATION_ATTRS = frozenset({"gen_ai.agent.name", "llm.prompt_template.variables", "invlog.trigger", "user.id",
                               "enduser.id", "invlog.task_id", "gen_ai.conversation.id", "session.id",
                               "gen_ai.prompt.name", "gen_ai.prompt.version", "llm.prompt_template.version"})
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


def check_span(s: Span) -> None:
    """Raise ``ValueError`` for a span that cannot be ingested (the receiver names it in ``partial_success``)."""
    # ids are hex by construction (bytes.hex() in the receiver, format() in the exporter): length and zero only
    if len(s.trace_id) != 32 or s.trace_id == _ZERO_TRACE:
        raise ValueError("trace_id: expected 16 bytes, not all zero")
    if len(s.span_id) != 16 or s.span_id == _ZERO_SPAN:
        raise ValueError("span_id: expected 8 bytes, not all zero")
    if s.end_ns < s.start_ns or s.start_ns <= 0:
        raise ValueError(f"span {s.span_id}: times out of order or missing")
    if kind(s) == "model":
        from invlog.pricing.usage import check_usage

        s.usage = _usage(s.attributes)
        check_usage(s.usage[0])
    trig = s.attributes.get("invlog.trigger")
    if trig is not None:
        from recorder.validate import check_trigger

        check_trigger(trig)
