"""``Recorder``: configuration, the low-level recording API, flush and shutdown.

Configuration follows one rule: explicit argument > environment variable >
default, validated here with errors that name the parameter.

========================  ============================================  ==========================
argument                  environment                                   default
========================  ============================================  ==========================
``lake``                  ``INVLOG_LAKE``                               ``./data/lake``
``spool_dir``             ``INVLOG_SPOOL``                              ``<lake>/_spool`` (local);
                                                                        ``~/.cache/invocation-logs/
                                                                        spool/<hash>`` (S3)
``prices``                ``INVLOG_PRICES``                             none (genai-prices only)
========================  ============================================  ==========================
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from typing import Any

from invlog.lake import Lake, validate_tenant
from invlog.pricing import PriceBook
from recorder.arrow_pool import use_recording_pool
from recorder.budget import BudgetGuard
from recorder.encode import Encoder
from recorder.flusher import Flusher
from recorder.invocation import Invocation
from recorder.memory import MemoryStore, MemoryWriter
from recorder.redact import Hook
from recorder.sink import FlusherSink, Sink
from recorder.validate import check_optional_text, check_trigger

log = logging.getLogger("invocation_logs")

ENV_SPOOL = "INVLOG_SPOOL"


def _positive(name: str, value: float, *, integer: bool = False) -> None:
    if (integer and type(value) is not int) or not value > 0:
        raise ValueError(f"{name}: expected a positive {'integer' if integer else 'number'}, got {value!r}")


def default_spool_dir(lake: Lake) -> str:
    env = os.environ.get(ENV_SPOOL)
    if env:
        return os.path.abspath(env)
    if lake.is_local:
        return os.path.join(lake.root, "_spool")  # '_' folders are invisible to Hive-style readers
    return user_spool_dir(lake)


def user_spool_dir(lake: Lake) -> str:
    """The per-user spool of a lake: for S3 lakes, and for a local lake that cannot be written."""
    digest = hashlib.sha256(lake.url.encode()).hexdigest()[:16]
    return os.path.join(os.path.expanduser("~/.cache/invocation-logs/spool"), digest)


def _usable_spool(lake: Lake, explicit: str | None) -> str:
    """The spool folder, created. A default spool that cannot be created (the lake's folder is missing or
    read-only) falls back to the per-user one, said once: recording never breaks the agent over it."""
    path = os.path.abspath(explicit) if explicit else default_spool_dir(lake)
    try:
        os.makedirs(path, exist_ok=True)
        if os.access(path, os.W_OK | os.X_OK):
            return path
        reason = "Permission denied"
    except OSError as exc:
        reason = exc.strerror or str(exc)
    if explicit or os.environ.get(ENV_SPOOL):
        raise ValueError(f"spool_dir: cannot use {path!r}: {reason}")
    fallback = user_spool_dir(lake)
    os.makedirs(fallback, exist_ok=True)
    log.warning("lake %s cannot be written (%s): records are kept in the spool %s and published to the lake "
                "once it can be written", lake.url, reason, fallback)
    return fallback


class Recorder:
    """Records invocations into a Parquet lake (a local folder or ``s3://bucket/prefix``)."""

    def __init__(self, lake: str | os.PathLike[str] | None = None, *,
                 storage_options: dict[str, Any] | None = None,
                 spool_dir: str | os.PathLike[str] | None = None,
                 prices: str | os.PathLike[str] | None = None,
                 redact: Hook | None = None,
                 max_queue: int = 10_000, batch_size: int = 512,
                 spool_interval: float = 0.1, publish_interval: float = 10.0,
                 max_segment_bytes: int = 4 << 20, max_field_bytes: int = 1 << 20,
                 max_attachment_bytes: int = 100 << 20, fsync: bool = True, flush_timeout: float = 30.0,
                 encoder_process: bool = False, commit_interval: float = 60.0, sink: Sink | None = None,
                 budget_refresh: float = 10.0):
        for name, val, integer in (("max_queue", max_queue, True), ("batch_size", batch_size, True),
                                   ("commit_interval", commit_interval, False),
                                   ("spool_interval", spool_interval, False),
                                   ("publish_interval", publish_interval, False),
                                   ("max_segment_bytes", max_segment_bytes, True),
                                   ("max_attachment_bytes", max_attachment_bytes, True),
                                   ("flush_timeout", flush_timeout, False),
                                   ("budget_refresh", budget_refresh, False)):
            _positive(name, val, integer=integer)
        if redact is not None and not callable(redact):
            raise ValueError("redact: expected a callable (field, value) -> value")
        use_recording_pool()  # jemalloc, not mimalloc (recorder/arrow_pool.py: measured)
        self.lake = Lake(lake, storage_options)
        self.spool_dir = _usable_spool(self.lake, os.fspath(spool_dir) if spool_dir else None)
        self._prices = PriceBook(prices)
        self._flusher = Flusher(
            self.lake, self.spool_dir, Encoder(max_field_bytes=max_field_bytes, hook=redact),
            max_queue=max_queue, batch_size=batch_size, spool_interval=spool_interval,
            publish_interval=publish_interval, max_segment_bytes=max_segment_bytes,
            max_attachment_bytes=max_attachment_bytes, fsync=fsync, flush_timeout=flush_timeout,
            encoder_process=encoder_process, commit_interval=commit_interval,
        )
        self._flusher._start()  # replays what an earlier process left in the spool
        # Where finished invocations go: the flusher, or a given sink (recorder.sink.MemorySink in tests)
        self._sink: Sink = sink if sink is not None else FlusherSink(self._prices, self._flusher)
        self._sink.prices = self._prices  # one price book: the recorder's (prices= / INVLOG_PRICES)
        self._memory_writer = MemoryWriter(self.lake, self.spool_dir)
        self.memory = MemoryStore(self.lake, redact, self._memory_writer)
        """Session memory (``recorder.memory``): shared by this recorder's agents, stored off their thread."""
        self.budgets = BudgetGuard(self.lake, refresh=budget_refresh)
        """Enforced budgets (``recorder.budget``): ``Agent.run`` asks it before calling the model."""

    def invocation(self, *, tenant: str, agent: str, provider: str, model: str, trigger: str = "user",
                   user_id: str | None = None, task_id: str | None = None, session_id: str | None = None,
                   prompt_name: str | None = None, prompt_version: str | None = None,
                   system_prompt: str | None = None, user_message: str | None = None,
                   variables: dict[str, Any] | None = None, system_variables: dict[str, Any] | None = None,
                   memory_context: list[Any] | None = None, files: list[Any] | None = None,
                   clock: Any = None) -> Invocation:
        """Record one invocation; use as a context manager. Raises ``ValueError`` for bad input."""
        validate_tenant(tenant)
        check_trigger(trigger)
        if not (type(agent) is str and agent and type(provider) is str and provider and type(model) is str
                and model):
            for name, value in (("agent", agent), ("provider", provider), ("model", model)):
                if type(value) is not str or not value:
                    raise ValueError(f"{name}: expected a non-empty string, got {value!r}")
        if not ((user_id is None or type(user_id) is str) and (task_id is None or type(task_id) is str)
                and (session_id is None or type(session_id) is str)):
            check_optional_text("user_id", user_id)
            check_optional_text("task_id", task_id)
            check_optional_text("session_id", session_id)
        return Invocation(self._sink, tenant, agent, provider, model, trigger, user_id, task_id, session_id,
                          prompt_name, prompt_version, system_prompt, user_message, variables,
                          system_variables, memory_context, files, clock)

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything recorded before the call is in the lake.

        Returns ``False`` (never raises) if that did not happen within ``timeout``
        seconds (default ``flush_timeout``) or if records were dropped since the
        last successful flush; what is spooled is published later.
        """
        deadline = time.monotonic() + (self._flusher.flush_timeout if timeout is None else timeout)
        ok = self._flusher.flush(timeout)
        return self._memory_writer.drain(max(0.0, deadline - time.monotonic())) and ok

    def wait_durable(self, timeout: float | None = None) -> bool:
        """Block until everything recorded before the call survives a crash: in the spool (written with
        fsync, the group commit) or already in the lake; unlike ``flush`` it does not wait for
        publication. Returns ``False`` (never raises) on timeout or if records were dropped since the last call.
        The OTLP receiver acknowledges on its own log and deletes it only after this returns True."""
        return self._flusher.wait_durable(timeout)

    def commit(self, timeout: float | None = None) -> bool:
        """``flush``, then register what this recorder published in the Delta log now, instead of at
        the next commit interval (default once a minute) or at shutdown. Returns ``False`` (never
        raises) if either step failed; what is not committed stays pending and visible to readers."""
        if not self.flush(timeout):
            return False
        return self._flusher.committer.commit()

    def shutdown(self, timeout: float | None = None) -> bool:
        """Publish what is pending, commit it to the Delta log and stop; idempotent, also run at
        interpreter exit."""
        deadline = time.monotonic() + (self._flusher.flush_timeout if timeout is None else timeout)
        ok = self._flusher.shutdown(timeout)
        return self._memory_writer.close(max(0.0, deadline - time.monotonic())) and ok

    @property
    def redact_hook(self) -> Hook | None:
        """The ``redact`` hook the recorder applies to every field (session memory applies it too)."""
        return self._flusher.encoder.hook

    def pending(self) -> int:
        """Runs accepted and not yet encoded into the spool (queued, or staged for the encoder helper).

        Cheap enough to poll per run: a producer that paces itself waits while it is high."""
        return self._flusher.pending()

    def stats(self) -> dict[str, int]:
        """Counters: enqueued, written, dropped, retries, errors, spool backlog, in flight."""
        out = self._flusher.stats()
        out["memory_pending"] = self._memory_writer.pending()
        out["memory_errors"] = self._memory_writer.errors
        return out

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
