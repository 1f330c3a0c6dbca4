"""The call path every SDK provider shares, written once for sync and async.

A provider says how to build its request (:meth:`SDKProvider._kwargs`), how to send
it with its sync and async clients (``_send``/``_asend``, one SDK call each), how to
read a whole answer (``_from_response``) and how to fold one streamed event into a
state (``_event``, then ``_finish``). The call path itself is one generator
(``_call``); :meth:`complete` and :meth:`acomplete` only drive it with sync or async
I/O and hold no provider logic: time to first token is the first content delta when
streamed (the whole answer otherwise), and the SDK's timeout exception becomes
``TimeoutError`` (status Timeout).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

from recorder.providers.base import Completion

STREAM = object()  # the call path asks for the next streamed event
END = object()  # sent to the call path when the stream is over


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

    def _call(self, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]], files: list[Any],
              timeout: float | None, on_first_token: Callable[[], None]) -> Generator[Any, Any, Completion]:
        """The call path, once. It yields the request and is sent the SDK's response; when the answer
        streams, it yields again and is sent each event, then ``END``. The runners below only do the
        I/O, and throw what the SDK raised back in here, where a timeout becomes ``TimeoutError``."""
        try:
            resp = yield self._kwargs(model, messages, tools, files, timeout)
            if not self.stream:
                on_first_token()
                return self._from_response(resp)
            state = self._new_state(model)
            while (ev := (yield STREAM)) is not END:
                self._event(state, ev, on_first_token)
            return self._finish(state)
        except self._timeout_errors as exc:
            raise self._timed_out(timeout, exc) from exc

    def complete(self, *, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                 files: list[Any], timeout: float | None, on_first_token: Callable[[], None],
                 clock: Any) -> Completion:
        call = self._call(model, messages, tools, files, timeout, on_first_token)
        try:
            try:
                resp = self._send(next(call))
                call.send(resp)  # a whole answer ends the path here
                for ev in resp:
                    call.send(ev)
                call.send(END)
            except StopIteration:
                raise
            except Exception as exc:  # the SDK's error, into the path (which translates a timeout)
                call.throw(exc)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        raise AssertionError("the call path did not finish")  # pragma: no cover

    async def acomplete(self, *, model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]],
                        files: list[Any], timeout: float | None, on_first_token: Callable[[], None],
                        clock: Any) -> Completion:
        call = self._call(model, messages, tools, files, timeout, on_first_token)
        try:
            try:
                resp = await self._asend(next(call))
                call.send(resp)
                async for ev in resp:
                    call.send(ev)
                call.send(END)
            except StopIteration:
                raise
            except Exception as exc:
                call.throw(exc)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        raise AssertionError("the call path did not finish")  # pragma: no cover
