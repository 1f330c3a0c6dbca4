"""``Warehouse``: DuckDB in-process over the lake in place, one tenant per query.

Every query function takes one tenant, asks the part index for that tenant's
files in the date range (so DuckDB opens nothing else: a broken file in another
tenant's folder cannot affect it), runs one ``.sql`` file with named parameters,
and returns a Polars DataFrame with exact decimals. Times are UTC. On S3 the
lake's s3fs filesystem is registered with DuckDB (its httpfs extension cannot be
downloaded here, and this keeps one set of credentials).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl
import pyarrow.parquet as pq

from invlog.lake import INVOCATIONS, ROUNDS, Lake, empty_table, file_schema, partition_path, validate_tenant
from invlog.lake.layout import placeholder_partition
from warehouse import rollup, sqlfiles, toplist
from warehouse.errors import CorruptPartError, QueryError
from warehouse.index import PartIndex
from warehouse.toplist import SORTS

MAX_HOURLY_DAYS = 31  # an hourly trend is 24 rows a day per split: longer ranges ask for a coarser grain
GRAINS = {"hour": "1 hour", "day": "1 day", "week": "1 week", "month": "1 month"}
SPLITS = {None: "'total'", "agent": "agent", "model": "model", "provider": "provider",
          "user": "coalesce(user_id, '(none)')", "trigger": '"trigger"'}
DIMENSIONS = {"agent": "agent", "model": "model", "user": "coalesce(user_id, '(none)')",
              "day": "cast(started_at as date)", "provider": "provider", "trigger": '"trigger"'}
HIVE = "hive_partitioning = true, union_by_name = true, hive_types = {'tenant': VARCHAR, 'date': DATE}"


# DuckDB's invalid-input errors that mean a file cannot be read, not that the query is wrong.
_UNREADABLE = re.compile(r"parquet|magic bytes|footer|file|metadata", re.I)


def _as_of(value: int | dt.datetime | str | None) -> int | dt.datetime | None:
    """A log version (int, or digits) or a time (datetime or ISO text; naive means UTC)."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"as_of: expected a version number or an ISO time, got {value!r}") from exc
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
    raise ValueError(f"as_of: expected a version number or a datetime, got {value!r}")


def _utc(value: dt.datetime | dt.date) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"expected a timezone-aware datetime, got {value!r}")
        return value.astimezone(dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    raise ValueError(f"expected a date or datetime, got {type(value).__name__}")


def _range(start: Any, end: Any) -> tuple[dt.datetime, dt.datetime]:
    """[start, end): a date ``end`` includes that whole day."""
    s = _utc(start)
    e = _utc(end) + (dt.timedelta(days=1) if not isinstance(end, dt.datetime) else dt.timedelta(0))
    if e <= s:
        raise ValueError(f"end: must be after start ({start} .. {end})")
    return s, e


@dataclass
class SpendReport:
    tenant: str
    start: dt.datetime
    end: dt.datetime
    generated_at: dt.datetime
    total_cost_usd: Decimal
    runs: int
    unpriced_runs: int
    by_agent: pl.DataFrame
    by_model: pl.DataFrame
    by_user: pl.DataFrame
    by_day: pl.DataFrame
    unpriced: pl.DataFrame
    month_to_date_usd: Decimal | None = None
    projected_month_usd: Decimal | None = None
    projection_method: str | None = None
    notes: list[str] = field(default_factory=list)
    caching: pl.DataFrame | None = None  # cache economics by agent (warehouse.caching); None on Spark


class Warehouse:
    """Read-only analytics over a lake; cheap to share across threads."""

    def __init__(self, lake: str | os.PathLike[str] | Lake | None = None, *,
                 storage_options: dict[str, Any] | None = None, refresh_interval: float = 2.0,
                 memory_limit: str = "256MB", threads: int = 2, as_of: int | dt.datetime | str | None = None,
                 engine: str = "duckdb", spark: Any = None):
        """``engine="spark"`` with ``spark=<SparkSession>`` runs the spend report and the cost trend on
        Spark over the Delta tables (``warehouse.spark``); every other query needs DuckDB."""
        if engine not in ("duckdb", "spark"):
            raise ValueError(f"engine: expected 'duckdb' or 'spark', got {engine!r}")
        if (engine == "spark") != (spark is not None):
            raise ValueError("engine='spark' takes spark=<SparkSession> (warehouse.spark.session() makes one); "
                             "spark= is only for engine='spark'")
        self.lake = lake if isinstance(lake, Lake) else Lake(lake, storage_options)
        self.as_of = _as_of(as_of)
        self.engine = engine
        self.spark = None
        if spark is not None:
            from warehouse.spark import SparkEngine

            self.spark = SparkEngine(spark, self.lake, self.as_of)
        self.index = PartIndex(self.lake, refresh_interval, self.as_of)
        self._con = duckdb.connect(config={"memory_limit": memory_limit, "threads": threads})
        self._con.execute("set TimeZone = 'UTC'")
        if not self.lake.is_local:
            self._con.register_filesystem(self.lake.fs)
        self._empty = self._empty_files()
        for name in ("inv_src", "rounds_src"):
            self._con.execute(f"create or replace macro {name}(files) as table "  # our own constants only
                              f"select * from read_parquet(files, {HIVE})")
        for macro in rollup.MACROS:
            self._con.execute(macro)
        self._local = threading.local()

    def _empty_files(self) -> dict[str, str]:
        # An empty part file with the full schema stands in for "no files": DuckDB needs at least one.
        folder = tempfile.mkdtemp(prefix="invlog-empty-")
        out = {}
        for table, schema in (("invocations", INVOCATIONS), ("rounds", ROUNDS)):
            path = os.path.join(folder, placeholder_partition(table))
            os.makedirs(path)
            pq.write_table(empty_table(file_schema(schema)), os.path.join(path, "empty.parquet"))
            out[table] = os.path.join(path, "empty.parquet")
        out["rollups"] = os.path.join(folder, "empty-rollup.parquet")
        pq.write_table(rollup.empty(), out["rollups"])
        out["tops"] = os.path.join(folder, "empty-toplist.parquet")
        with open(out["tops"], "wb") as f:  # the top list of no rows: its schema, for union by name
            f.write(toplist.build(empty_table(file_schema(INVOCATIONS))))
        return out

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._local.cur = self._con.cursor()
        return cur

    def _files(self, table: str, tenant: str, start: dt.datetime | None, end: dt.datetime | None) -> Any:
        return self._files_and_rollups(table, tenant, start, end, use_rollups=False)[0]

    def _files_and_rollups(self, table: str, tenant: str, start: dt.datetime | None, end: dt.datetime | None,
                           use_rollups: bool = True) -> tuple[Any, Any]:
        """Part files and rollups for [start, end): a rollup stands in for its part on whole days only.

        On Spark: what to scan (the engine takes the files from the Delta log) and no rollups."""
        validate_tenant(tenant)
        d0 = start.date() if start else None
        d1 = (end - dt.timedelta(microseconds=1)).date() if end else None
        if self.spark is not None:
            from warehouse.spark import Scan

            return Scan(table, tenant, d0, d1), Scan("rollups", tenant)
        whole = None
        if use_rollups and start and end:
            first = d0 if start.time() == dt.time() else d0 + dt.timedelta(days=1)
            last = end.date() - dt.timedelta(days=1)  # end's own day is never whole: [start, end) excludes it
            whole = (first, last) if first <= last else None
        paths, rollups, bad, _ = self.index.files_with_rollups(table, tenant, d0, d1, whole)
        if bad:
            raise CorruptPartError(tenant, bad)
        # The empty file carries the current schema: with union_by_name, part files written by an
        # older version read with every current column (missing ones as NULL), and an empty list works.
        return [*paths, self._empty[table]], [*rollups, self._empty["rollups"]]

    def _run(self, name: str, params: dict[str, Any], **slots: str) -> pl.DataFrame:
        sql = sqlfiles.render(name, **slots) if slots else sqlfiles.load(name)
        if self.spark is not None:
            return _utc_labels(self.spark.run(name, sql, params))
        try:
            return _utc_labels(self._cursor().sql(sql, params=params).pl())
        except duckdb.IOException as exc:  # a file vanished (compaction cleanup) or is unreadable
            self.index.invalidate(params.get("tenant"))
            raise CorruptPartError(params.get("tenant", "?"), [str(exc).splitlines()[0]]) from exc
        except duckdb.InvalidInputException as exc:
            first = str(exc).splitlines()[0]
            if _UNREADABLE.search(first):  # DuckDB says a file is not Parquet, or is cut short
                raise CorruptPartError(params.get("tenant", "?"), [first]) from exc
            raise QueryError(f"{name}: {first}") from exc

    # ---- queries ----------------------------------------------------------
    def tenants(self) -> list[str]:
        return self.index.tenants()

    def attachment_refs(self, tenant: str) -> set[str]:
        """The SHA-256 of every attachment that a live invocation of the tenant references."""
        files = self._files("invocations", tenant, None, None)
        df = self._run("attachment_refs", {"tenant": tenant, "inv_files": files})
        return set(df["sha256"].to_list())

    def tenant_totals(self, tenant: str, now: dt.datetime | None = None) -> pl.DataFrame:
        """One row: total_runs, runs_today, errors_24h, cost_today_usd (known costs; null when every run
        today is unpriced), unpriced_today and the previous day's figures."""
        now = _utc(now) if now else dt.datetime.now(dt.UTC)
        day_start = dt.datetime.combine(now.date(), dt.time(), dt.UTC)
        files = self._files("invocations", tenant, day_start - dt.timedelta(days=2), now + dt.timedelta(days=1))
        df = self._run("tenant_totals", {"tenant": tenant, "inv_files": files, "day_start": day_start,
                                         "now_excl": now + dt.timedelta(microseconds=1)})
        _, _, total = self.index.files("invocations", tenant)
        return df.with_columns(pl.lit(total, pl.Int64).alias("total_runs")).select(
            "total_runs", "runs_today", "runs_yesterday", "errors_24h", "errors_prev_24h", "cost_today_usd",
            "unpriced_today", "cost_yesterday_usd")

    def cost_trend(self, tenant: str, start: Any, end: Any, *, grain: str = "day",
                   split_by: str | None = None) -> pl.DataFrame:
        """Cost, runs and tokens per period, every period present; ``split`` per split_by value."""
        if grain not in GRAINS:
            raise ValueError(f"grain: expected one of {sorted(GRAINS)}, got {grain!r}")
        if split_by not in SPLITS:
            raise ValueError(f"split_by: expected one of {sorted(k for k in SPLITS if k)} or None, got {split_by!r}")
        s, e = _range(start, end)
        if grain == "hour" and e - s > dt.timedelta(days=MAX_HOURLY_DAYS):
            raise ValueError(f"grain: 'hour' covers at most {MAX_HOURLY_DAYS} days, got {(e - s).days} days "
                             f"({start} .. {end}); use grain='day' or a shorter range")
        # Users are rolled up per day (there are many of them): an hourly split by user reads raw rows.
        files, rollups = self._files_and_rollups("invocations", tenant, s, e,
                                                 use_rollups=not (grain == "hour" and split_by == "user"))
        splits = "select 'total' as split" if split_by is None else "select distinct split from src"
        return self._run("cost_trend", {"tenant": tenant, "inv_files": files, "rollup_files": rollups, "start": s,
                                        "end": e, "grain": grain, "step": GRAINS[grain],
                                        "bucket_us": 3_600_000_000 if grain == "hour" else 86_400_000_000,
                                        "dim": split_by or "agent"},
                         split=SPLITS[split_by], splits=splits, rollup_split="'total'" if split_by is None else "key")

    def expensive_agents(self, tenant: str, start: Any, end: Any, top_n: int = 10) -> pl.DataFrame:
        if type(top_n) is not int or not 1 <= top_n <= 1000:
            raise ValueError(f"top_n: expected an integer from 1 to 1000, got {top_n!r}")
        s, e = _range(start, end)
        files, rollups = self._files_and_rollups("invocations", tenant, s, e)
        return self._run("expensive_agents", {"tenant": tenant, "inv_files": files, "rollup_files": rollups,
                                              "start": s, "end": e, "top_n": top_n})

    def invocations(self, tenant: str, start: Any, end: Any, *, agent: str | None = None, model: str | None = None,
                    provider: str | None = None, status: str | Sequence[str] | None = None,
                    trigger: str | None = None,
                    user_id: str | None = None, session_id: str | None = None, min_cost: Any = None,
                    text: str | None = None, sort: str = "time", limit: int = 50,
                    offset: int = 0) -> tuple[pl.DataFrame, int]:
        """The filtered list (a page of it) and the total count of matching invocations. ``status`` is one
        status or several (``("Failed", "Timeout")``: the runs with either)."""
        if sort not in SORTS:
            raise ValueError(f"sort: expected one of {sorted(SORTS)}, got {sort!r}")
        if type(limit) is not int or not 1 <= limit <= 10_000:
            raise ValueError(f"limit: expected an integer from 1 to 10000, got {limit!r}")
        if type(offset) is not int or offset < 0:
            raise ValueError(f"offset: expected a non-negative integer, got {offset!r}")
        if status is not None and not isinstance(status, (str, list, tuple, set, frozenset)):
            raise ValueError(f"status: expected a status or a list of them, got {status!r}")
        statuses = [status] if isinstance(status, str) else None if status is None else list(status)
        filters = {"agent": agent, "model": model, "provider": provider, "trigger": trigger,
                   "user_id": user_id, "session_id": session_id, "text": text}
        for k, v in [*filters.items(), *(("status", x) for x in statuses or ())]:
            if v is not None and (not isinstance(v, str) or len(v) > 500):
                raise ValueError(f"{k}: expected a string of at most 500 characters")
        if statuses is not None and not statuses:
            raise ValueError("status: expected a status or a non-empty list of them")
        # one status stays an equality (measured faster than the list test: 40.9 vs 46.2 ms on 7 days of the
        # bench lake's largest tenant); several are a list the filter matches any of
        one = statuses is not None and len(statuses) == 1
        filters["status"], filters["statuses"] = (statuses[0] if one else None), (None if one else statuses)
        cost = None if min_cost in (None, "") else Decimal(str(min_cost))
        s, e = _range(start, end)
        params = {"tenant": tenant, "inv_files": self._files("invocations", tenant, s, e), "start": s, "end": e,
                  "min_cost": cost, **filters}
        where = sqlfiles.load("invocation_filter")  # one predicate for the page and its count
        columns = sqlfiles.load("invocation_columns")
        unfiltered = not any(v is not None for v in filters.values()) and cost is None
        whole_days = s.time() == e.time() == dt.time()
        if unfiltered and whole_days and offset + limit <= toplist.K:  # the parts' top lists hold the page
            d0, d1 = s.date(), (e - dt.timedelta(microseconds=1)).date()
            raw, tops = self.index.files_with_tops("invocations", tenant, d0, d1)
            df = self._run("invocations_top", {"tenant": tenant, "inv_files": [*raw, self._empty["invocations"]],
                                               "top_files": [*tops, self._empty["tops"]], "start": s, "end": e,
                                               "limit": limit, "offset": offset},
                           order_by=SORTS[sort], columns=columns)
        else:
            df = self._run("invocations", {**params, "limit": limit, "offset": offset}, order_by=SORTS[sort],
                           filter=where, columns=columns)
        if unfiltered and whole_days:
            # whole days, no filter: the count is the partitions' row counts (every row of a day's
            # partition started that day), known from the log without reading a file
            total = self.index.files("invocations", tenant, s.date(), (e - dt.timedelta(microseconds=1)).date())[2]
        else:
            total = int(self._run("invocations_count", params, filter=where)["total_count"][0])
        return df, total

    def daily_activity(self, tenant: str, start: Any, end: Any) -> pl.DataFrame:
        """Per UTC day (every day present): runs, errors, unpriced runs and the error rate (null on a day
        without runs)."""
        s, e = _range(start, end)
        return self._run("daily_activity", {"tenant": tenant, "inv_files": self._files("invocations", tenant, s, e),
                                            "start": s, "end": e})

    def users(self, tenant: str, start: Any, end: Any, *, limit: int = 200) -> pl.DataFrame:
        """Per user in the period: runs, errors, error rate, known cost (null when all unpriced), unpriced runs,
        tokens, first and last run; the most expensive first."""
        if type(limit) is not int or not 1 <= limit <= 10_000:
            raise ValueError(f"limit: expected an integer from 1 to 10000, got {limit!r}")
        s, e = _range(start, end)
        return self._run("users", {"tenant": tenant, "inv_files": self._files("invocations", tenant, s, e),
                                   "start": s, "end": e, "limit": limit})

    def sessions(self, tenant: str, start: Any, end: Any, *, user_id: str | None = None,
                 limit: int = 200) -> pl.DataFrame:
        """The sessions with runs in the period, newest first: runs, user, agents, known cost, unpriced runs,
        tokens, errors, first start, last end and the duration between them. A session's runs in order:
        ``invocations(..., session_id=..., sort="oldest")``."""
        if type(limit) is not int or not 1 <= limit <= 10_000:
            raise ValueError(f"limit: expected an integer from 1 to 10000, got {limit!r}")
        if user_id is not None and (not isinstance(user_id, str) or len(user_id) > 500):
            raise ValueError("user_id: expected a string of at most 500 characters")
        s, e = _range(start, end)
        return self._run("sessions", {"tenant": tenant, "inv_files": self._files("invocations", tenant, s, e),
                                      "start": s, "end": e, "user_id": user_id, "limit": limit})

    def trace(self, tenant: str, invocation_id: str) -> dict[str, Any] | None:
        """The invocation, its rounds in order, attachments and memory context; None if not found."""
        if not isinstance(invocation_id, str) or not 1 <= len(invocation_id) <= 64:
            raise ValueError("invocation_id: expected an id string")
        when = _id_time(invocation_id)
        s = e = None
        if when is not None:  # ids start with the invocation's start time, which picks its partition
            s = dt.datetime.combine(when.date(), dt.time(), dt.UTC)
            e = s + dt.timedelta(days=1)
        params = {"tenant": tenant, "invocation_id": invocation_id}
        inv = self._run("trace_invocation", {**params, "inv_files": self._files("invocations", tenant, s, e)})
        if inv.height == 0:
            return None
        rounds = self._run("trace_rounds", {**params, "round_files": self._files("rounds", tenant, s, e)})
        row = inv.row(0, named=True)
        return {"invocation": row, "rounds": rounds,
                "attachments": json.loads(row["attachments"]) if row.get("attachments") else [],
                "memory_context": json.loads(row["memory_context"]) if row.get("memory_context") else []}

    def rule_metrics(self, tenant: str, start: dt.datetime, end: dt.datetime, *, agent: str | None = None,
                     model: str | None = None, user_id: str | None = None) -> dict[str, Any]:
        """What budgets and alerts watch (``warehouse.alerts``): known spend (``cost_usd``), runs, errors,
        unpriced runs and p95 latency of the tenant's runs in [start, end) within a scope."""
        s, e = _utc(start), _utc(end)
        files = self._files("invocations", tenant, s, e)
        row = self._run("rule_metrics", {"tenant": tenant, "inv_files": files, "start": s, "end": e,
                                         "agent": agent, "model": model, "user_id": user_id}).row(0, named=True)
        row["cost_usd"] = Decimal(row["cost_usd"])
        return row

    def restatement(self, tenant: str, start: Any, end: Any, *, prices: str | os.PathLike[str] | None = None,
                    price_date: dt.date | None = None) -> pl.DataFrame:
        """Every round of the period with its recorded and restated cost (see ``warehouse.reprice``)."""
        from invlog.pricing import PriceBook
        from warehouse import reprice

        s, e = _range(start, end)
        rounds = self._run("reprice_rounds", {"tenant": tenant, "start": s, "end": e,
                                              "round_files": self._files("rounds", tenant, s, e)})
        return reprice.restate_rounds(rounds, tenant, PriceBook(prices), price_date)

    def cache_economics(self, tenant: str, start: Any, end: Any, *, group_by: str = "agent",
                        prices: str | os.PathLike[str] | None = None) -> pl.DataFrame:
        """Did prompt caching pay off (``warehouse.caching``): per agent, prompt (name and version), model or
        day, the cache reads and writes, what the reads saved, what the writes cost above input, the net,
        the writes never read back (by ``caching.READ_BACK_RULE``) and the cost without caching."""
        return self.cache_breakdowns(tenant, start, end, groups=(group_by,), prices=prices)[group_by]

    def cache_breakdowns(self, tenant: str, start: Any, end: Any, *,
                         groups: tuple[str, ...] = ("day", "prompt", "agent", "model"),
                         prices: str | os.PathLike[str] | None = None) -> dict[str, pl.DataFrame]:
        """``cache_economics`` for several groupings at once, pricing the period's rounds once."""
        from invlog.pricing import PriceBook
        from warehouse import caching

        for g in groups:
            if g not in caching.GROUPS:
                raise ValueError(f"group_by: expected one of {', '.join(caching.GROUPS)}, got {g!r}")
        s, e = _range(start, end)
        ahead = e + dt.timedelta(microseconds=caching.TTL_1H_US)
        params = {"tenant": tenant, "start": s, "end": e,
                  "inv_files": self._files("invocations", tenant, s - dt.timedelta(days=1), ahead)}
        active = self._run("cache_rounds", {**params, "lookahead_end": ahead,
                                            "round_files": self._files("rounds", tenant, s, ahead)})
        totals = self._run("cache_totals", {**params, "round_files": self._files("rounds", tenant, s, e)})
        priced = caching.prepare(active, tenant, PriceBook(prices))
        return {g: caching.grouped(priced, totals, g) for g in groups}

    def reconcile_recorded(self, tenant: str, provider: str, start: dt.datetime, end: dt.datetime) -> pl.DataFrame:
        """What the lake recorded of ``provider`` per day and model (``warehouse.reconcile`` compares it)."""
        s, e = _utc(start), _utc(end)
        return self._run("reconcile_recorded", {"tenant": tenant, "provider": provider, "start": s, "end": e,
                                                "round_files": self._files("rounds", tenant, s, e)})

    def _restated_files(self, tenant: str, s: dt.datetime, e: dt.datetime, prices: Any,
                        price_date: dt.date | None, folder: str) -> dict[str, list[str]]:
        """A scratch copy of the period with restated costs, laid out as the lake is."""
        from warehouse import reprice

        rounds = self.restatement(tenant, s, e, prices=prices, price_date=price_date)
        inv = self._run("period_invocations", {"tenant": tenant, "start": s, "end": e,
                                               "inv_files": self._files("invocations", tenant, s, e)})
        inv = reprice.restated_invocations(inv, rounds)
        rnd = rounds.select("invocation_id", "round_index", "started_at", "provider", "model", "input_tokens",
                            "output_tokens", pl.col("restated_cost_usd").alias("cost_usd"),
                            pl.col("restated_unpriced").alias("unpriced"),
                            pl.col("restated_reason").alias("unpriced_reason"))
        out: dict[str, list[str]] = {"invocations": [self._empty["invocations"]], "rounds": [self._empty["rounds"]]}
        for table, df in (("invocations", inv), ("rounds", rnd)):
            df = df.with_columns(pl.col("started_at").dt.date().alias("_day"))
            for (day,), part in df.partition_by("_day", as_dict=True).items():
                path = os.path.join(folder, partition_path(table, tenant, day))
                os.makedirs(path, exist_ok=True)
                part.drop("_day").write_parquet(os.path.join(path, "restated.parquet"))
                out[table].append(os.path.join(path, "restated.parquet"))
        return out

    def spend_report(self, tenant: str, start: Any, end: Any, *, now: dt.datetime | None = None,
                     restated: bool = False, prices: str | os.PathLike[str] | None = None,
                     price_date: dt.date | None = None, caching: bool = False) -> SpendReport:
        """Per-tenant spend: totals, breakdowns, unpriced usage apart, month-to-date and projection.

        ``restated=True``: the same report with every cost recomputed from the stored usage
        (``prices``: an overrides file; ``price_date``: the prices in force that day); the
        lake is not changed. ``caching=True`` adds the prompt-cache economics by agent
        (``report.caching``; DuckDB only): it prices every round with cache activity again, so it
        is asked for by the HTML report rather than paid by every caller.
        """
        s, e = _range(start, end)
        now = _utc(now) if now else dt.datetime.now(dt.UTC)
        if restated and self.spark is not None:
            raise ValueError("restated=True: a restated report runs on DuckDB only (engine='duckdb')")
        if not restated:
            rep = self._spend_report(tenant, s, e, now, None, None, None)
        else:
            month_start = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
            with tempfile.TemporaryDirectory(prefix="invlog-restated-") as folder:
                files = self._restated_files(tenant, min(s, month_start), max(e, now), prices, price_date, folder)
                rep = self._spend_report(tenant, s, e, now, files, prices, price_date)
        if caching and self.spark is None:
            rep.caching = self.cache_economics(tenant, s, e, group_by="agent", prices=prices)
        return rep

    def _spend_report(self, tenant: str, s: dt.datetime, e: dt.datetime, now: dt.datetime,
                      files: dict[str, list[str]] | None, prices: Any, price_date: dt.date | None) -> SpendReport:
        month_start = dt.datetime(now.year, now.month, 1, tzinfo=dt.UTC)
        restated = files is not None

        def part_files(table: str, a: dt.datetime, b: dt.datetime) -> list[str]:
            # The scratch copy holds only the period (and the month so far): the query's range filters it.
            return files[table] if files is not None else self._files(table, tenant, a, b)

        p = {"tenant": tenant, "inv_files": part_files("invocations", s, e), "start": s, "end": e}
        round_files = part_files("rounds", s, e)
        tot = self._run("spend_total", p).row(0, named=True)
        by = {d: self._run("spend_breakdown", p, dimension=DIMENSIONS[d]) for d in ("agent", "model", "user", "day")}
        by["day"] = by["day"].sort("key")  # a period reads in date order; the other breakdowns by cost
        unpriced = self._run("spend_unpriced", {"tenant": tenant, "start": s, "end": e, "round_files": round_files})
        report = SpendReport(tenant=tenant, start=s, end=e, generated_at=now,
                             total_cost_usd=Decimal(tot["cost_usd"]), runs=tot["runs"],
                             unpriced_runs=tot["unpriced_runs"], by_agent=by["agent"], by_model=by["model"],
                             by_user=by["user"], by_day=by["day"], unpriced=unpriced)
        if s <= now < e:
            next_month = dt.datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=dt.UTC)
            mtd = self._run("spend_total", {"tenant": tenant, "start": month_start, "end": now,
                                            "inv_files": part_files("invocations", month_start, now)})
            report.month_to_date_usd = Decimal(mtd["cost_usd"][0])
            elapsed = Decimal((now - month_start).total_seconds())
            whole = Decimal((next_month - month_start).total_seconds())
            if elapsed > 0:
                report.projected_month_usd = (report.month_to_date_usd * whole / elapsed).quantize(Decimal("0.01"))
            report.projection_method = (
                "linear run rate: month-to-date spend divided by the elapsed share of the month "
                f"({float(elapsed / whole):.1%} at {now:%Y-%m-%d %H:%M} UTC), extrapolated to the whole month")
        if report.unpriced_runs:
            report.notes.append(f"{report.unpriced_runs} runs have no known cost (unknown model, missing or "
                                "unreadable usage); their usage is listed under 'unpriced' with the reason and is "
                                "not included in the total (never counted as $0).")
        if restated:
            what = f"the prices in force on {price_date}" if price_date else "the prices at each call's instant"
            src = f" and the overrides in {os.path.basename(os.fspath(prices))}" if prices else ""
            report.notes.append(f"Restated: every cost recomputed from the stored usage with {what}{src}. "
                                "The recorded costs are unchanged in the lake.")
        return report


def _utc_labels(df: pl.DataFrame) -> pl.DataFrame:
    """Every zoned time labelled "UTC" (DuckDB's date_trunc labels some "Etc/UTC"): one dtype per column
    whatever the query or the engine."""
    zoned = [c for c, t in df.schema.items() if isinstance(t, pl.Datetime) and t.time_zone not in (None, "UTC")]
    return df.with_columns(pl.col(zoned).dt.convert_time_zone("UTC")) if zoned else df


def _id_time(invocation_id: str) -> dt.datetime | None:
    try:
        us = int(invocation_id[:14], 16)
    except ValueError:
        return None
    if not 0 < us < 2**53:
        return None
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)

