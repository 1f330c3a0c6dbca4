"""The hot path: ``Invocation`` and ``Round`` context managers.

They validate, take timestamps, price each round from a cached price and, when
the invocation block ends, hand one tuple per row to their sink (``recorder.sink``).
No JSON, no uuid4, no I/O and no Arrow here: a recorded invocation of three rounds
costs a few microseconds of the agent's time. Exceptions are recorded (Failed, or
Timeout for ``TimeoutError``) and re-raised; recording itself never raises once
the block has started. Message lists are copied shallowly, so an agent may keep
appending to its own list after a round.
"""

from __future__ import annotations

import contextvars
import itertools
import os
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from invlog.lake import COST_SCALE, SCHEMA_VERSION
from invlog.pricing import COLUMNS, MISSING_USAGE, REASONS, check_usage, context
from recorder.validate import check_cost

if TYPE_CHECKING:
    from recorder.attachments import LLMFile
    from recorder.sink import Sink

_current: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar("invlog_invocation", default=None)
_US_PER_DAY = 86_400_000_000
_ZERO = (0,) * len(COLUMNS)
_NO_RESPONSE: tuple[dict[str, Any] | None, str | None, bool] = (None, None, False)
_ids = itertools.count()
_prefix = os.urandom(5).hex()


def _reset_ids() -> None:
    global _ids, _prefix
    _ids, _prefix = itertools.count(), os.urandom(5).hex()


os.register_at_fork(after_in_child=_reset_ids)


def current_invocation() -> Invocation | None:
    """The invocation whose block encloses this code (follows threads' and tasks' contexts)."""
    return _current.get()


def picos_to_usd(picos: int | None) -> Decimal | None:
    return None if picos is None else Decimal(picos).scaleb(-COST_SCALE)


def _status_of(exc: BaseException | None) -> str:
    if exc is None:
        return "Success"
    return "Timeout" if isinstance(exc, TimeoutError) else "Failed"


class Round:
    """One LLM call inside an invocation; use as ``with inv.round(...) as r``."""

    __slots__ = (
        "_billed",
        "_cost",
        "_inv",
        "_price_source",
        "_reason",
        "_reported",
        "_t0",
        "_t_end",
        "_t_mark",
        "_unpriced",
        "_wall0",
        "error_message",
        "error_type",
        "index",
        "messages",
        "model",
        "raw_usage",
        "request_params",
        "status",
        "stop_reason",
        "text",
        "tool_calls",
        "ttft_ms",
        "usage",
    )

    def __init__(self, inv: Invocation, index: int, messages: list[Any] | None,
                 request_params: dict[str, Any] | None, model: str | None):
        self._inv, self.index = inv, index
        self.messages = list(messages) if messages is not None else None
        self.request_params = dict(request_params) if request_params is not None else None
        self.model = model or inv.model
        self.text: str | None = None
        self.tool_calls: list[dict[str, Any]] | None = None
        self.stop_reason: str | None = None
        self.usage = _ZERO  # the billed counts in invlog.pricing.COLUMNS order
        self._billed = _NO_RESPONSE  # (other units, service tier, batch): set by set_response
        self._reported: int | None = None
        self._reason: str | None = MISSING_USAGE  # until set_response says otherwise
        self.raw_usage: Any = None
        self.ttft_ms: float | None = None
        self._cost: int | None = None
        self._price_source: str | None = None
        self._unpriced = True
        self._t_end: int | None = None
        self._t_mark: int | None = None  # when the model answered, then each tool result: the tools' timings
        self.status: str | None = None
        self.error_type: str | None = None
        self.error_message: str | None = None

    def __enter__(self) -> Round:
        inv = self._inv
        self._t0 = inv._mono()
        # Wall time derived from the invocation's start and a monotonic offset: a wall-clock
        # jump mid-run cannot reorder rounds or produce negative durations.
        self._wall0 = inv._wall0 + (self._t0 - inv._t0) // 1000
        return self

    def first_token(self) -> None:
        """Mark the first streamed token now (time to first token)."""
        if self.ttft_ms is None:
            self.ttft_ms = (self._inv._mono() - self._t0) / 1e6

    def set_response(self, text: str | None = None, *, tool_calls: list[dict[str, Any]] | None = None,
                     stop_reason: str | None = None, usage: dict[str, Any] | None = None,
                     raw_usage: Any = None, ttft_ms: float | None = None, model: str | None = None,
                     cost_usd: Any = None, service_tier: str | None = None, batch: bool = False,
                     reported_cost_usd: Any = None, unpriced_reason: str | None = None) -> None:
        """The model's answer and what the call billed.

        ``usage`` follows the design's token convention; its keys are the lake's usage
        columns (``invlog.pricing.COLUMNS``) or genai-prices usage keys. It is priced at
        the round's start instant with ``service_tier`` and ``batch``. ``cost_usd``
        replaces our price with the caller's own (``price_source`` = ``caller``);
        ``reported_cost_usd`` (a cost the provider reported) is kept beside ours;
        ``unpriced_reason`` records a call whose usage could not be read. Ends the
        round's latency clock (tool execution afterwards is not the LLM's latency).
        """
        self._t_end = self._t_mark = self._inv._mono()
        cols, other, shape = check_usage(usage)
        self.usage = cols
        if model is not None:
            self.model = model
        if text is not None and type(text) is not str:
            raise ValueError(f"text: expected a string, got {type(text).__name__}")
        self.text, self.stop_reason = text, stop_reason
        self.tool_calls = list(tool_calls) if tool_calls else None
        self.raw_usage = raw_usage if raw_usage is not None else usage
        if ttft_ms is not None:
            self.ttft_ms = float(ttft_ms)
        if service_tier is not None and type(service_tier) is not str:
            raise ValueError(f"service_tier: expected a string, got {type(service_tier).__name__}")
        self._billed = _NO_RESPONSE if other is None and service_tier is None and not batch else (
            other, service_tier, bool(batch))
        if reported_cost_usd is not None:
            self._reported = check_cost(reported_cost_usd)
        if cost_usd is not None:
            self._cost, self._unpriced, self._price_source, self._reason = check_cost(cost_usd), False, "caller", None
            return
        if unpriced_reason is not None:
            if unpriced_reason not in REASONS:
                raise ValueError(f"unpriced_reason: expected one of {', '.join(REASONS)}, got {unpriced_reason!r}")
            self._cost, self._unpriced, self._price_source, self._reason = None, True, None, unpriced_reason
            return
        if not usage:  # no usage reported (a stream without include_usage, a usage-less body): cost unknown, not $0
            self._cost, self._unpriced, self._price_source, self._reason = None, True, None, MISSING_USAGE
            return
        inv = self._inv
        wall = self._wall0
        if service_tier or batch or self.model is not inv.model:
            plan = inv._sink.prices.plan(inv.tenant, inv.provider, self.model,
                                         context(service_tier, batch), wall)[0]
        else:  # the invocation's own model at the default tier: one plan per run, while it stays in force
            plan, start, end = inv._plan
            if not start <= wall < end:
                plan, start, end = inv._plan = inv._sink.prices.plan(inv.tenant, inv.provider, inv.model, (), wall)
        if isinstance(plan, str):  # why it cannot be priced
            self._cost, self._unpriced, self._price_source, self._reason = None, True, None, plan
            return
        picos, reason = plan.cost(cols, other, shape)
        self._cost, self._reason, self._unpriced = picos, reason, picos is None
        self._price_source = plan.source if picos is not None else None

    def set_tool_result(self, call: int | str, result: Any = None, *, error: str | None = None) -> None:
        """Attach the result your code returned for a tool call (by position or call id).

        Tools run one after another once the model has answered, so the call also records when this one
        ran: ``started_us`` (from the round's start) and ``duration_us``, measured from the model's answer
        (or the previous tool's result) to this result; the trace's timeline draws them."""
        now = self._inv._mono()
        calls = self.tool_calls or []
        if isinstance(call, int):
            index = call
        else:
            index = next((i for i, c in enumerate(calls) if c.get("id") == call), -1)
            if index < 0:
                raise ValueError(f"call: no tool call with id {call!r} in this round")
        target = calls[index] = dict(calls[index])  # copy on write: the caller's dict stays as it was
        target["result"] = result
        if error is not None:
            target["error"] = error
        mark = self._t_mark
        if mark is not None:  # whole microseconds: cheap to compute and to encode
            target["started_us"] = (mark - self._t0) // 1000
            target["duration_us"] = (now - mark) // 1000
            self._t_mark = now

    @property
    def cost_usd(self) -> Decimal | None:
        return picos_to_usd(self._cost)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            end = self._t_end if self._t_end is not None else self._inv._mono()
            if exc is not None:
                if self.status is None:
                    self.status = _status_of(exc)
                if self.error_type is None:
                    self.error_type, self.error_message = type(exc).__name__, str(exc)[:4000]
            elif self.status is None:
                self.status = "Success"
            lat_us = (end - self._t0) // 1000
            inv = self._inv
            u = self.usage
            inv._add_round((
                inv.invocation_id, self.index, inv.tenant, inv._day, inv.agent, inv.provider, self.model,
                self.status, self.error_type, self.error_message, self._wall0, self._wall0 + lat_us,
                lat_us / 1000, self.ttft_ms, self.stop_reason, u[0], u[1], u[2], u[3], u[4], self._cost,
                self._unpriced, self._price_source, self.messages, self.text, self.tool_calls,
                self.request_params, self.raw_usage, None, SCHEMA_VERSION, u[5], u[6], u[7], u[8], u[9],
                *self._billed, self._reported, self._reason,
            ), self)
        except Exception:  # recording never breaks the agent
            self._inv._sink.internal_error()


class Invocation:
    """One ``agent.run()``: use as ``with rec.invocation(...) as inv``."""

    __slots__ = (
        "_clock",
        "_closed",
        "_cost",
        "_day",
        "_mono",
        "_next_index",
        "_plan",
        "_reason",
        "_reported",
        "_rows",
        "_sink",
        "_t0",
        "_token",
        "_tokens",
        "_ttft",
        "_unpriced",
        "_wall0",
        "agent",
        "error_message",
        "error_type",
        "files",
        "incomplete",
        "invocation_id",
        "memory_context",
        "model",
        "prompt_name",
        "prompt_version",
        "provider",
        "response",
        "session_id",
        "status",
        "system_prompt",
        "system_variables",
        "task_id",
        "tenant",
        "trace_id",
        "trigger",
        "user_id",
        "user_message",
        "variables",
    )

    def __init__(self, sink: Sink, tenant: str, agent: str, provider: str, model: str, trigger: str,
                 user_id: str | None, task_id: str | None, session_id: str | None, prompt_name: str | None,
                 prompt_version: str | None, system_prompt: str | None, user_message: str | None,
                 variables: Any, system_variables: Any, memory_context: Any, files: list[LLMFile] | None,
                 clock: Any = None):
        self._sink = sink
        self.tenant, self.agent, self.provider, self.model, self.trigger = tenant, agent, provider, model, trigger
        self.user_id, self.task_id, self.session_id = user_id, task_id, session_id
        self.prompt_name, self.prompt_version = prompt_name, prompt_version
        self.system_prompt, self.user_message = system_prompt, user_message
        self.variables, self.system_variables, self.memory_context = variables, system_variables, memory_context
        self.files = list(files) if files else None
        self.response: str | None = None
        self.status: str | None = None
        self.error_type: str | None = None
        self.error_message: str | None = None
        self.trace_id: str | None = None  # set by OpenTelemetry ingestion (recorder.otel.write)
        self.incomplete: bool | None = None
        self._rows: list[tuple[Any, ...]] = []
        self._next_index = 0
        self._cost: int | None = 0
        self._unpriced = False
        self._reason: str | None = None
        self._reported: int | None = None
        self._plan: tuple[Any, int, int] = (None, 0, 0)  # (plan, in force from, until), resolved on first use
        self._tokens = [0] * len(COLUMNS)
        self._ttft: float | None = None
        self._closed = False
        self._clock = clock
        self._mono = clock.mono_ns if clock is not None else time.perf_counter_ns
        self.invocation_id = ""

    def __enter__(self) -> Invocation:
        # An injectable clock (wall_us(), mono_ns()) lets demos and tests place runs in the past.
        self._wall0 = self._clock.wall_us() if self._clock is not None else time.time_ns() // 1000
        self._day = self._wall0 // _US_PER_DAY
        self._t0 = self._mono()
        self.invocation_id = f"{self._wall0:014x}{_prefix}{next(_ids) & 0xFFFFFF:06x}"
        self._token = _current.set(self)
        return self

    def round(self, messages: list[Any] | None = None, *, request_params: dict[str, Any] | None = None,
              model: str | None = None) -> Round:
        """Start the next LLM call of this invocation."""
        if self._closed:
            raise ValueError("round: this invocation has already ended")
        r = Round(self, self._next_index, messages, request_params, model)
        self._next_index += 1
        return r

    def _add_round(self, row: tuple[Any, ...], r: Round) -> None:
        if self._closed:
            return  # a round that outlived its invocation is not recorded twice
        self._rows.append(row)
        t = self._tokens
        u = r.usage
        t[0] += u[0]
        t[1] += u[1]
        t[2] += u[2]
        t[3] += u[3]
        t[4] += u[4]
        if u[5] or u[6] or u[7] or u[8] or u[9]:
            for k in range(5, len(t)):
                t[k] += u[k]
        if r._reported is not None:
            self._reported = r._reported + (self._reported or 0)
        if r._cost is None:
            if not self._unpriced:
                self._reason = r._reason  # the first unpriced round's reason
            self._unpriced = True
        elif self._cost is not None:
            self._cost += r._cost
        if self._ttft is None and r.ttft_ms is not None:
            self._ttft = (r._t0 - self._t0) / 1e6 + r.ttft_ms

    def mark_timeout(self, message: str | None = None) -> None:
        """Record this invocation as Timeout even if the block exits normally (no exception needed)."""
        self.status, self.error_type, self.error_message = "Timeout", "TimeoutError", message

    def mark_failed(self, error_type: str, message: str | None = None) -> None:
        """Record this invocation as Failed with ``error_type`` even if the block exits normally: the
        low-level API's way to record an outcome the caller handled without raising."""
        if not isinstance(error_type, str) or not error_type:
            raise ValueError(f"error_type: expected a non-empty string, got {error_type!r}")
        self.status, self.error_type, self.error_message = "Failed", error_type, message

    @property
    def cost_usd(self) -> Decimal | None:
        """Exact cost so far (the recorded cost after the block); ``None`` if any round is unpriced."""
        return None if self._unpriced else picos_to_usd(self._cost)

    @property
    def unpriced(self) -> bool:
        return self._unpriced

    @property
    def unpriced_reason(self) -> str | None:
        """Why the cost is unknown (the first unpriced round's reason), else ``None``."""
        return self._reason

    @property
    def reported_cost_usd(self) -> Decimal | None:
        """The sum of the costs providers reported for its rounds, if any did."""
        return picos_to_usd(self._reported)

    @property
    def usage(self) -> dict[str, int]:
        """The five core counts, and any other billed unit that is not zero."""
        t = self._tokens
        out = {"input_tokens": t[0], "output_tokens": t[1], "cache_read_tokens": t[2],
               "cache_write_tokens": t[3], "reasoning_tokens": t[4]}
        for name, v in zip(COLUMNS[5:], t[5:], strict=True):
            if v:
                out[name] = v
        return out

    def clock_us(self) -> int:
        """Now on this invocation's clock (the injected one, else the system's), in UTC microseconds."""
        return self._clock.wall_us() if self._clock is not None else time.time_ns() // 1000

    @property
    def round_count(self) -> int:
        return len(self._rows)

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        try:
            _current.reset(self._token)
        except ValueError:  # exited in another context (e.g. another task)
            _current.set(None)
        if self._closed:
            return
        self._closed = True
        try:
            if self.status is None:
                self.status = _status_of(exc)
            if exc is not None and self.error_type is None:
                self.error_type, self.error_message = type(exc).__name__, str(exc)[:4000]
            lat_us = (self._mono() - self._t0) // 1000
            t = self._tokens
            cost = None if self._unpriced else self._cost
            row = (
                self.invocation_id, self.tenant, self._day, self.agent, self.provider, self.model, self.trigger,
                self.status, self.error_type, self.error_message, self._wall0, self._wall0 + lat_us,
                lat_us / 1000, self._ttft, t[0], t[1], t[2], t[3], t[4], cost, self._unpriced, len(self._rows),
                self.user_id, self.task_id, self.session_id, self.prompt_name, self.prompt_version,
                self.system_prompt, self.user_message, self.variables, self.system_variables, self.response,
                # the files, in a list of the row's own: the flusher describes them in place (recorder.mirror)
                list(self.files) if self.files else None, self.memory_context, None, SCHEMA_VERSION,
                t[5], t[6], t[7], t[8], t[9], self._reported, self._reason, self.trace_id, self.incomplete,
            )
            self._sink.submit((row, self._rows))
        except Exception:
            self._sink.internal_error()
