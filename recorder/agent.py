"""``Agent.run()``: an agent loop that is recorded with nothing to wire up.

Each ``run`` is one invocation: the prompt template is rendered, prior turns of
the session are injected when memory is on, the model is called, tools it asks
for are run (sync or async; a tool that raises or returns something that is not
JSON is reported to the model as an error, as agent frameworks do), and the model
is called again, up to ``max_rounds`` times. Every model call is a round.

Outcomes: a successful run returns a :class:`Response`. A run that times out
raises ``TimeoutError`` and one that fails raises the provider's or tool layer's
exception; both are recorded first (status Timeout / Failed, with the rounds
done so far), and the exception carries ``invocation_id`` and ``cost_usd``.
``agent.total_cost_usd`` is the agent's cumulative recorded spend in this process
(priced runs only; ``unpriced_runs`` counts the others); the lifetime figure
across processes is the warehouse's ``expensive_agents``/``spend_report``.
"""

from __future__ import annotations

import asyncio
import inspect
import string
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from recorder.attachments import LLMFile
from recorder.core import Recorder
from recorder.invocation import Invocation
from recorder.providers.base import Completion, Provider

_default: Recorder | None = None
_default_lock = threading.Lock()


def default_recorder() -> Recorder:
    """The process-wide recorder on the default lake (``INVLOG_LAKE`` or ``./data/lake``)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Recorder()
        return _default


class MaxRoundsExceeded(RuntimeError):
    """The model kept asking for tools past the agent's ``max_rounds``."""


@dataclass(frozen=True)
class PromptTemplate:
    """A named, versioned prompt: ``system`` and ``user`` are ``str.format`` templates.

    The user template receives the run's message as ``{message}``; if it has one
    placeholder that the variables do not fill, the message fills that one (so
    ``user="{question}"`` works).
    """

    name: str
    version: str
    system: str = ""
    user: str = "{message}"

    @staticmethod
    def _fields(template: str) -> list[str]:
        return [f for _, f, _, _ in string.Formatter().parse(template) if f]

    def render(self, message: str, variables: dict[str, Any]) -> tuple[str, str]:
        system = self._render("system", self.system, variables)
        values = {"message": message, **variables}
        missing = [f for f in self._fields(self.user) if f not in values]
        if len(missing) == 1:
            values[missing[0]] = message
        return system, self._render("user", self.user, values)

    def _render(self, which: str, template: str, values: dict[str, Any]) -> str:
        for f in self._fields(template):
            if f.split(".")[0].split("[")[0] not in values:
                raise ValueError(f"variables: prompt {self.name!r} v{self.version} ({which}) needs {f!r}")
        return template.format(**values)


@dataclass
class Response:
    text: str | None
    cost_usd: Decimal | None
    usage: dict[str, int]
    invocation_id: str
    status: str
    rounds: int
    memory_context: list[dict[str, Any]] = field(default_factory=list)


def _tool_spec(fn: Callable[..., Any]) -> dict[str, Any]:
    types = {int: "integer", float: "number", bool: "boolean", str: "string", "int": "integer",
             "float": "number", "bool": "boolean", "str": "string"}
    props, required = {}, []
    for p in inspect.signature(fn).parameters.values():
        props[p.name] = {"type": types.get(p.annotation, "string")}
        if p.default is inspect.Parameter.empty:
            required.append(p.name)
    return {"name": fn.__name__, "description": (inspect.getdoc(fn) or "").split("\n")[0],
            "parameters": {"type": "object", "properties": props, "required": required}}


def _tool_outcome(result: Any) -> tuple[Any, str | None]:
    try:
        orjson.dumps(result)
    except (TypeError, orjson.JSONEncodeError) as exc:
        return None, f"UnserializableResult: {type(result).__name__} is not JSON ({exc})"
    return result, None


class Agent:
    """An LLM agent whose every ``run`` is recorded as an invocation."""

    def __init__(self, name: str, provider: Provider, model: str, *, tools: list[Callable[..., Any]] | None = None,
                 prompt: PromptTemplate | None = None, memory: bool | int = False,
                 recorder: Recorder | None = None, max_rounds: int = 8):
        if not isinstance(name, str) or not name:
            raise ValueError("name: expected a non-empty string")
        if type(max_rounds) is not int or max_rounds < 1:
            raise ValueError(f"max_rounds: expected a positive integer, got {max_rounds!r}")
        self.name, self.provider, self.model = name, provider, model
        self.tools = {t.__name__: t for t in tools or []}
        self.tool_specs = [_tool_spec(t) for t in tools or []]
        self.prompt = prompt or PromptTemplate(name=name, version="0")
        self.memory_turns = 10 if memory is True else int(memory or 0)
        self.recorder = recorder or default_recorder()
        self._memory = self.recorder.memory if self.memory_turns else None
        self.max_rounds = max_rounds
        self._lock = threading.Lock()
        self.total_cost_usd = Decimal(0)
        self.unpriced_runs = 0

    # ---- shared preparation and bookkeeping ------------------------------
    def _prepare(self, message: str, tenant: str, session_id: str | None, variables: dict[str, Any] | None,
                 system_variables: dict[str, Any] | None, files: list[LLMFile] | None,
                 clock: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        if not isinstance(message, str):
            raise ValueError(f"message: expected a string, got {type(message).__name__}")
        now_us = clock.wall_us() if clock is not None else time.time_ns() // 1000
        sysvars = {"date": time.strftime("%Y-%m-%d", time.gmtime(now_us / 1e6)), "tenant": tenant,
                   "agent": self.name, **(system_variables or {})}
        variables = dict(variables or {})
        system, user = self.prompt.render(message, {**sysvars, **variables})
        history: list[dict[str, Any]] = []
        if self._memory is not None and session_id:
            for turn in self._memory.turns(tenant, self.name, session_id)[-self.memory_turns:]:
                history.append({"role": "user", "content": turn["user"], "invocation_id": turn["invocation_id"]})
                history.append({"role": "assistant", "content": turn["assistant"],
                                "invocation_id": turn["invocation_id"]})
        content: Any = user
        if files:
            content = [{"type": "text", "text": user}] + [
                {"type": "file", "filename": f.filename, "media_type": f.media_type, "source": f.source,
                 **({"url": f.url} if f.url else {})} for f in files]
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": m["role"], "content": m["content"]} for m in history] + [{"role": "user", "content": content}]
        meta = {"system_prompt": system or None, "user_message": user, "variables": variables or None,
                "system_variables": sysvars, "memory_context": history or None}
        return messages, meta

    def _settle(self, inv: Invocation, tenant: str, session_id: str | None, message: str,
                answer: str | None, ok: bool) -> None:
        cost = inv.cost_usd
        with self._lock:
            if cost is None:
                self.unpriced_runs += 1
            else:
                self.total_cost_usd += cost
        if cost:  # this process's spend counts towards enforced budgets until the checker sees it
            self.recorder.budgets.observe(tenant, self.name, self.model, inv.user_id,
                                          inv.clock_us(), int(cost.scaleb(12)))
        if ok and self._memory is not None and session_id:
            self._memory.append(tenant, self.name, session_id,
                                {"user": message, "assistant": answer, "invocation_id": inv.invocation_id})

    def _invocation(self, tenant: str, trigger: str, user_id: str | None, task_id: str | None,
                    session_id: str | None, meta: dict[str, Any], files: list[LLMFile] | None,
                    clock: Any) -> Invocation:
        return self.recorder.invocation(
            tenant=tenant, agent=self.name, provider=self.provider.vendor(self.model), model=self.model,
            trigger=trigger, user_id=user_id, task_id=task_id, session_id=session_id,
            prompt_name=self.prompt.name, prompt_version=self.prompt.version, files=files, clock=clock, **meta)

    def _after_model(self, r: Any, comp: Completion, messages: list[dict[str, Any]]) -> bool:
        """Record the answer; append it to the conversation. True when tools are to be run."""
        r.set_response(comp.text, tool_calls=comp.tool_calls or None, stop_reason=comp.stop_reason,
                       usage=comp.usage, raw_usage=comp.raw_usage, ttft_ms=comp.ttft_ms,
                       model=comp.model if comp.model and comp.model != self.model else None,
                       service_tier=comp.service_tier, batch=comp.batch, reported_cost_usd=comp.reported_cost_usd,
                       unpriced_reason=None if comp.usage else comp.unpriced_reason)
        if not comp.tool_calls:
            return False
        messages.append({"role": "assistant", "content": comp.text, "tool_calls": comp.tool_calls})
        return True

    def _tool_message(self, r: Any, i: int, call: dict[str, Any], result: Any, error: str | None,
                      messages: list[dict[str, Any]]) -> None:
        r.set_tool_result(i, result, error=error)
        body = {"error": error} if error else {"result": result}
        messages.append({"role": "tool", "tool_call_id": call["id"], "name": call["name"],
                         "content": orjson.dumps(body).decode()})

    @staticmethod
    def _fail(exc: BaseException, inv: Invocation) -> BaseException:
        exc.invocation_id = inv.invocation_id  # type: ignore[attr-defined]
        exc.cost_usd = inv.cost_usd  # type: ignore[attr-defined]
        exc.add_note(f"recorded as invocation {inv.invocation_id} ({inv.status})")
        return exc

    # ---- the loop, written once ------------------------------------------------
    def _loop(self, inv: Invocation, messages: list[dict[str, Any]], files: list[LLMFile] | None, clock: Any,
              timeout: float | None, expired: Callable[[], bool]) -> Generator[tuple[str, Any], Any, str | None]:
        """The agent loop as a generator: it yields ``("model", kwargs)`` (a model call) and ``("await",
        awaitable)`` (an async tool's result) and is sent the outcome; an exception is thrown in at the
        yield, inside the round, which records it. ``run`` and ``arun`` only drive it (one with calls, the other
        with awaits), so the two cannot drift. Every model call gets the time left of the run's budget."""
        # An enforced budget at its limit refuses the run here, before any model call: the refusal is
        # recorded (Failed, BudgetExceeded, no rounds, zero cost) and raised to the caller.
        self.recorder.budgets.check(inv.tenant, self.name, self.model, inv.user_id,
                                    clock.wall_us() if clock is not None else None)
        mono = clock.mono_ns if clock is not None else time.perf_counter_ns
        deadline = None if timeout is None else mono() + int(timeout * 1e9)
        for _ in range(self.max_rounds):
            remaining = None if deadline is None else (deadline - mono()) / 1e9
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"run exceeded its timeout of {timeout}s")
            with inv.round(messages, request_params=self.provider.request_params(self.model, self.tool_specs)) as r:
                try:
                    request = {"model": self.model, "messages": messages, "tools": self.tool_specs,
                            "files": files or [], "timeout": remaining, "on_first_token": r.first_token,
                            "clock": clock}
                    comp: Completion = yield "model", request
                    if not self._after_model(r, comp, messages):
                        return comp.text
                    for i, call in enumerate(comp.tool_calls):
                        fn = self.tools.get(call["name"])
                        error: str | None
                        if fn is None:
                            result, error = None, f"UnknownTool: no tool named {call['name']!r}"
                        else:
                            try:  # a tool that raises is reported to the model as an error
                                result = fn(**(call.get("arguments") or {}))
                                if inspect.isawaitable(result):  # an async tool: the driver awaits it
                                    result = yield "await", result
                                result, error = _tool_outcome(result)
                            except Exception as exc:
                                result, error = None, f"{type(exc).__name__}: {exc}"
                        self._tool_message(r, i, call, result, error, messages)
                except asyncio.CancelledError:
                    if expired():  # the run's timeout cancelled this round (async)
                        r.status, r.error_type = "Timeout", "TimeoutError"
                        r.error_message = f"run exceeded its timeout of {timeout}s"
                    raise
        raise MaxRoundsExceeded(f"the model still asked for tools after {self.max_rounds} rounds")

    def _start(self, message: str, tenant: str, trigger: str, user_id: str | None, task_id: str | None,
               session_id: str | None, variables: dict[str, Any] | None, system_variables: dict[str, Any] | None,
               files: list[LLMFile] | None, clock: Any) -> tuple[Invocation, list[dict[str, Any]], dict[str, Any]]:
        messages, meta = self._prepare(message, tenant, session_id, variables, system_variables, files, clock)
        return self._invocation(tenant, trigger, user_id, task_id, session_id, meta, files, clock), messages, meta

    def _finish(self, inv: Invocation, tenant: str, session_id: str | None, message: str, answer: str | None,
                meta: dict[str, Any], exc: BaseException | None) -> Response:
        self._settle(inv, tenant, session_id, message, answer, exc is None)
        if exc is not None:
            raise self._fail(exc, inv) from None
        return self._response(inv, answer, meta)

    def run(self, message: str, *, tenant: str, trigger: str = "user", user_id: str | None = None,
            task_id: str | None = None, session_id: str | None = None, variables: dict[str, Any] | None = None,
            system_variables: dict[str, Any] | None = None, files: list[LLMFile] | None = None,
            timeout: float | None = None, clock: Any = None) -> Response:
        """Run the agent once; recorded as one invocation (see the module docstring)."""
        inv, messages, meta = self._start(message, tenant, trigger, user_id, task_id, session_id, variables,
                                          system_variables, files, clock)
        answer: str | None = None
        try:
            with inv:
                loop = self._loop(inv, messages, files, clock, timeout, lambda: False)
                send: Callable[[Any], tuple[str, Any]] = loop.send
                value: Any = None
                while True:
                    try:
                        kind, arg = send(value)
                    except StopIteration as stop:
                        answer = stop.value
                        break
                    try:
                        value = self.provider.complete(**arg) if kind == "model" else asyncio.run(arg)
                        send = loop.send
                    except BaseException as exc:  # into the loop, where its round records it
                        send, value = loop.throw, exc
                inv.response = answer
        except BaseException as exc:
            return self._finish(inv, tenant, session_id, message, answer, meta, exc)
        return self._finish(inv, tenant, session_id, message, answer, meta, None)

    async def arun(self, message: str, *, tenant: str, trigger: str = "user", user_id: str | None = None,
                   task_id: str | None = None, session_id: str | None = None,
                   variables: dict[str, Any] | None = None, system_variables: dict[str, Any] | None = None,
                   files: list[LLMFile] | None = None, timeout: float | None = None, clock: Any = None) -> Response:
        """``run`` for asyncio applications; tools may be sync or async."""
        inv, messages, meta = self._start(message, tenant, trigger, user_id, task_id, session_id, variables,
                                          system_variables, files, clock)
        answer: str | None = None
        try:
            with inv:
                async with asyncio.timeout(timeout) as cm:
                    loop = self._loop(inv, messages, files, clock, timeout, cm.expired)
                    send: Callable[[Any], tuple[str, Any]] = loop.send
                    value: Any = None
                    while True:
                        try:
                            kind, arg = send(value)
                        except StopIteration as stop:
                            answer = stop.value
                            break
                        try:
                            value = await (self.provider.acomplete(**arg) if kind == "model" else arg)
                            send = loop.send
                        except BaseException as exc:  # into the loop, where its round records it
                            send, value = loop.throw, exc
                inv.response = answer
        except BaseException as exc:
            return self._finish(inv, tenant, session_id, message, answer, meta, exc)
        return self._finish(inv, tenant, session_id, message, answer, meta, None)

    @staticmethod
    def _response(inv: Invocation, answer: str | None, meta: dict[str, Any]) -> Response:
        return Response(text=answer, cost_usd=inv.cost_usd, usage=inv.usage, invocation_id=inv.invocation_id,
                        status=inv.status or "Success", rounds=inv.round_count,
                        memory_context=meta["memory_context"] or [])
