"""The Spark engine: the spend report and the cost trend on Apache Spark over the lake's Delta tables.

The queries are the DuckDB files of ``warehouse/sql``, transpiled to Spark SQL by SQLGlot at first
use: one definition of each query. SQLGlot does the dialect (casts, ``filter (where ...)``,
``generate_series`` to ``sequence``, ``//`` to ``div``, null ordering); this module makes the two
rewrites it does not, on the syntax tree: our table macros (``inv_src($inv_files)``,
``read_parquet($rollup_files)``) become the tenant's DataFrames, and DuckDB's ``epoch_us`` becomes
``unix_micros``. Values stay named parameters (Spark's ``:name`` markers bound by
``spark.sql(args=...)``); no SQL is built from a value. A query reads one tenant's partitions.
Without delta-spark (its jars cannot be downloaded everywhere, this machine included) the driver
reads the Delta log with deltalake and gives Spark that tenant's committed files for the date
range; with delta-spark configured in the session (docs/spark.md), Spark reads the table itself
(``format("delta")``) with partition filters on tenant and date. Either way Spark sees committed
data only, never the files a recorder published since its last commit (at most its commit
interval, 60 s by default), where DuckDB also reads those. Rollups are not used: they are
DuckDB's shortcut, and Spark sums the raw rows to the same decimals. Sums stay decimal; Spark's
ANSI mode (on by default) fails on an overflow instead of giving a wrong number.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import unquote

import polars as pl
import pyarrow.compute as pc

from invlog.lake import Lake, delta
from warehouse import rollup
from warehouse.errors import WarehouseError

# What runs on Spark: the spend report's queries and the cost trend (every grain and split).
QUERIES = frozenset({"spend_total", "spend_breakdown", "spend_unpriced", "cost_trend"})
_TOKEN = "__invlog_source_{}__"  # a placeholder table name, replaced by pyspark's {name} DataFrame slot


class SparkEngineError(WarehouseError):
    """A query cannot run on Spark, or Spark failed to run it (the message says which)."""


@dataclass(frozen=True)
class Scan:
    """What a query reads: one tenant's partitions of a table over a date range (inclusive)."""

    table: str  # "invocations", "rounds", or "rollups" (none: Spark reads raw rows)
    tenant: str
    start: dt.date | None = None
    end: dt.date | None = None


@cache
def transpile(sql: str) -> tuple[str, tuple[str, ...]]:
    """The DuckDB query as Spark SQL with ``{param}`` slots where it reads a source, and those params."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")
    sources: list[str] = []
    for table in list(tree.find_all(exp.Table)):
        fn = table.this
        if not isinstance(fn, exp.Func):
            continue
        args = fn.expressions
        if len(args) != 1 or not isinstance(args[0], exp.Placeholder):
            raise SparkEngineError(f"a table function without one $parameter cannot run on Spark: {fn.sql()}")
        name = args[0].name
        sources.append(name)
        table.replace(exp.Table(this=exp.to_identifier(_TOKEN.format(name)), alias=table.args.get("alias")))
    for fn in list(tree.find_all(exp.Anonymous)):
        if fn.name.lower() == "epoch_us":  # DuckDB's microseconds since the epoch; Spark's name for it
            fn.replace(exp.Anonymous(this="unix_micros", expressions=fn.expressions))
    text = tree.sql(dialect="spark", comments=False)
    if "{" in text or "}" in text:  # pyspark formats the text: a brace would be read as a slot
        raise SparkEngineError("a query with braces cannot run on Spark")
    for name in sources:
        text = text.replace(_TOKEN.format(name), "{" + name + "}")
    return text, tuple(dict.fromkeys(sources))


def spark_uri(lake: Lake, rel: str) -> str:
    """The URI Spark reads: ``file:`` locally, ``s3a://`` on S3 (Hadoop's S3 connector)."""
    if lake.is_local:
        return "file://" + lake.path(rel)
    protocol, _, path = lake.url.partition("://")
    return f"{'s3a' if protocol == 's3' else protocol}://{path}/{rel}"


def session(master: str = "local[*]", app_name: str = "invocation-logs", **conf: str) -> Any:
    """A SparkSession set up as the engine needs it: UTC session time zone, ANSI arithmetic.

    ``master``: ``local[*]`` (this machine), or a cluster's URL (``spark://host:7077``, ``yarn``).
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:
        raise SparkEngineError("the Spark engine needs pyspark and sqlglot: "
                               "pip install 'invocation-logs[spark]'") from exc
    if master.startswith("local") and not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        raise SparkEngineError("Spark needs a Java 17+ runtime (Debian: apt-get install openjdk-17-jre-headless)")
    builder = (SparkSession.builder.master(master).appName(app_name)
               .config("spark.sql.session.timeZone", "UTC").config("spark.sql.ansi.enabled", "true"))
    if master.startswith("local"):
        builder = builder.config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "8")
    for k, v in conf.items():
        builder = builder.config(k.replace("_", "."), v)
    return builder.getOrCreate()


def has_delta_spark(spark: Any) -> bool:
    """Whether the session is configured with delta-spark's extension (then Spark reads the log itself)."""
    try:
        return "DeltaSparkSessionExtension" in (spark.conf.get("spark.sql.extensions", "") or "")
    except Exception:
        return False


class SparkEngine:
    """Runs the warehouse's queries on a SparkSession; one per ``Warehouse(engine="spark")``."""

    def __init__(self, spark: Any, lake: Lake, as_of: int | dt.datetime | None = None, *,
                 delta_spark: bool | None = None):
        from pyspark.sql.pandas.types import from_arrow_schema

        if spark.conf.get("spark.sql.session.timeZone") != "UTC":
            # periods are UTC days and hours: another session zone would move every boundary
            spark.conf.set("spark.sql.session.timeZone", "UTC")
        self.spark, self.lake, self.as_of = spark, lake, as_of
        self.delta_spark = has_delta_spark(spark) if delta_spark is None else delta_spark
        self._schemas = {t: from_arrow_schema(delta.schema(t)) for t in delta.NAMES}
        self._schemas["rollups"] = from_arrow_schema(rollup.SCHEMA)
        self._tables: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    # ---- sources ------------------------------------------------------------
    def files(self, scan: Scan) -> list[str]:
        """The committed files the Delta log lists for the scan's tenant and dates (Spark URIs)."""
        with self._lock:
            dtab = self._tables.get(scan.table)
            if dtab is None:
                dtab = delta.open_table(self.lake, scan.table, self.as_of)
                if dtab is None:
                    return []
                self._tables[scan.table] = dtab
            elif self.as_of is None:
                dtab.update_incremental()
            live = delta.live_entries(dtab)
        keep = pc.equal(live.column("tenant"), scan.tenant)  # exact text: "12" is not "012"
        if scan.start is not None:
            keep = pc.and_(keep, pc.greater_equal(live.column("date"), scan.start.isoformat()))
        if scan.end is not None:
            keep = pc.and_(keep, pc.less_equal(live.column("date"), scan.end.isoformat()))
        root = spark_uri(self.lake, scan.table)
        return [f"{root}/{unquote(p)}" for p in live.filter(keep).column("path").to_pylist()]

    def frame(self, scan: Scan) -> Any:
        """The scan as a Spark DataFrame with the table's one schema (tenant as text, date as date)."""
        schema = self._schemas[scan.table]
        if scan.table == "rollups":
            return self.spark.createDataFrame([], schema)
        if self.delta_spark:
            from pyspark.sql import functions as F

            reader = self.spark.read.format("delta")
            if isinstance(self.as_of, int):
                reader = reader.option("versionAsOf", self.as_of)
            elif self.as_of is not None:
                reader = reader.option("timestampAsOf", self.as_of.isoformat())
            df = reader.load(spark_uri(self.lake, scan.table)).where(F.col("tenant") == F.lit(scan.tenant))
            if scan.start is not None:
                df = df.where(F.col("date") >= F.lit(scan.start))
            if scan.end is not None:
                df = df.where(F.col("date") <= F.lit(scan.end))
            return df
        files = self.files(scan)
        if not files:
            return self.spark.createDataFrame([], schema)
        # basePath: the tenant and date columns come from the folder names, typed by the schema
        return (self.spark.read.schema(schema).option("basePath", spark_uri(self.lake, scan.table))
                .parquet(*files))

    @property
    def last_read(self) -> list[str]:
        """The files the last query on this thread read (for checking a tenant reads only its own)."""
        return list(getattr(self._local, "read", []))

    # ---- queries ------------------------------------------------------------
    def run(self, name: str, sql: str, params: dict[str, Any]) -> pl.DataFrame:
        if name not in QUERIES:
            raise SparkEngineError(f"{name}: runs on DuckDB only; the Spark engine runs the spend report and "
                                   "the cost trend (use engine='duckdb' for the rest)")
        from py4j.protocol import Py4JJavaError
        from pyspark.errors import PySparkException

        text, sources = transpile(sql)
        frames, args, read = {}, {}, []
        for key, value in params.items():
            if key in sources:
                if not isinstance(value, Scan):
                    raise SparkEngineError(f"{name}: ${key} must be a Scan on Spark, got {type(value).__name__}")
                frames[key] = self.frame(value)
                if value.table != "rollups":
                    read.extend(frames[key].inputFiles())
            elif f":{key}" in text:
                args[key] = value
        self._local.read = read
        try:
            return pl.from_arrow(self.spark.sql(text, args=args, **frames).toArrow())
        except (PySparkException, Py4JJavaError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise SparkEngineError(f"{name} on Spark failed: {first}") from exc
