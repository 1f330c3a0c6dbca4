"""The call path every SDK provider shares, written once for sync and async.

A provider says how to build its request (:meth:`SDKProvider._kwargs`), how to send
it with its sync and async clients (``_send``/``_asend``, one SDK call each), how to
read a whole answer (``_from_response``) and how to fold one streamed event into a
state (``_event``, then ``_finish``). :meth:`complete` and :meth:`acomplete` are the
only places that differ by I/O, and they hold no provider logic: time to first
token is the first content delta when streamed (the whole answer otherwise), and
the SDK's timeout exception becomes ``TimeoutError`` (status Timeout).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from recorder.providers.base import Completion


class SDKProvider:
    name = "sdk"
    stream = True
    _timeout_errors: tuple[type[BaseException], ...] = ()

    def _kwargs(self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], files: list[Any],
                timeout: float | None) -> dict[str, Any]:
        raise NotImplementedError

    def _send(self, kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    async def _asend(self, kwargs: dict[str, Any]) -> Any:
        raise NotImplementedError

    def _from_response(self, resp: Any) -> Completion:
        raise NotImplementedError

    def _new_state(self, model: str) -> dict[str, Any]:
        return {"text": [], "calls": {}, "first": False, "model": model}

    def _event(self, state: dict[str, Any], ev: Any, on_first_token: Callable[[], None]) -> None:
        raise NotImplementedError

    def _finish(self, state: dict[str, Any]) -> Completion:
        raise NotImplementedError

    @staticmethod
    def _first(state: dict[str, Any], on_first_token: Callable[[], None]) -> None:
        if not state["first"]:
            state["first"] = True
            on_first_token()

    def _timed_out(self, timeout: float | None, exc: BaseException) -> TimeoutError:
        return TimeoutError(f"{self.name} request timed out after {timeout}s")

    def complete(self, *, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                 files: list[Any], timeout: float | None, on_first_token: Callable[[], None],
                 clock: Any) -> Completion:
        kwargs = self._kwargs(model, messages, tools, files, timeout)
        try:
            resp = self._send(kwargs)
            if not self.stream:
                on_first_token()
                return self._from_response(resp)
            state = self._new_state(model)
            for ev in resp:
                self._event(state, ev, on_first_token)
            return self._finish(state)
        except self._timeout_errors as exc:
            raise self._timed_out(timeout, exc) from exc

    async def acomplete(self, *, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                        files: list[Any], timeout: float | None, on_first_token: Callable[[], None],
                        clock: Any) -> Completion:
        kwargs = self._kwargs(model, messages, tools, files, timeout)
        try:
            resp = await self._asend(kwargs)
            if not self.stream:
                on_first_token()
                return self._from_response(resp)
            state = self._new_state(model)
            async for ev in resp:
                self._event(state, ev, on_first_token)
            return self._finish(state)
        except self._timeout_errors as exc:
            raise self._timed_out(timeout, exc) from exc
