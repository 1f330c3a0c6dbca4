"""Arrow schemas of the two lake tables, ``invocations`` and ``rounds``.

This is the single schema definition: the recorder builds its Arrow batches from
these field lists (in this order), the warehouse builds its views from them, and
``tests/lake/test_schema.py`` pins every name and type. ``tenant`` and ``date`` are
Hive partition keys: they are part of the in-memory schema (and the spool) but are
stripped from Parquet part files (see :func:`file_schema`), as Hive and Spark expect.
Costs are exact decimals (``decimal(18, 12)``: picodollar resolution, up to one
million dollars per row); timestamps are UTC microseconds; JSON-shaped fields are
JSON text so that any engine can read them.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 3  # 2: billed units, reported cost, unpriced reason; 3: trace_id, incomplete (OpenTelemetry)

TRIGGERS = frozenset({"user", "system", "task"})
STATUSES = frozenset({"Success", "Failed", "Timeout"})

COST_SCALE = 12  # decimal places kept: costs are held as integer picodollars in memory
COST_TYPE = pa.decimal128(18, COST_SCALE)
TS = pa.timestamp("us", tz="UTC")
PARTITION_KEYS = ("tenant", "date")

_s, _i, _f, _b = pa.string(), pa.int64(), pa.float64(), pa.bool_()

# Billed units beyond the five core token columns (``invlog.pricing.usage.COLUMNS``): the
# schema only grows, so they follow the version-1 columns.
_BILLED = [
    ("cache_write_5m_tokens", _i),
    ("cache_write_1h_tokens", _i),
    ("input_audio_tokens", _i),
    ("output_audio_tokens", _i),
    ("web_search_requests", _i),
]

INVOCATIONS = pa.schema(
    [
        ("invocation_id", _s),
        ("tenant", _s),
        ("date", pa.date32()),
        ("agent", _s),
        ("provider", _s),
        ("model", _s),
        ("trigger", _s),
        ("status", _s),
        ("error_type", _s),
        ("error_message", _s),
        ("started_at", TS),
        ("ended_at", TS),
        ("latency_ms", _f),
        ("ttft_ms", _f),
        ("input_tokens", _i),
        ("output_tokens", _i),
        ("cache_read_tokens", _i),
        ("cache_write_tokens", _i),
        ("reasoning_tokens", _i),
        ("cost_usd", COST_TYPE),
        ("unpriced", _b),
        ("round_count", pa.int32()),
        ("user_id", _s),
        ("task_id", _s),
        ("session_id", _s),
        ("prompt_name", _s),
        ("prompt_version", _s),
        ("system_prompt", _s),
        ("user_message", _s),
        ("variables", _s),
        ("system_variables", _s),
        ("response", _s),
        ("attachments", _s),
        ("memory_context", _s),
        ("truncated", _s),
        ("schema_version", pa.int16()),
        # Added in schema version 2 (null in rows written before): sums over the rounds.
        *_BILLED,
        ("reported_cost_usd", COST_TYPE),
        ("unpriced_reason", _s),
        # Added in schema version 3 (null before): runs ingested from OpenTelemetry (recorder.otel).
        ("trace_id", _s),  # the OpenTelemetry trace id
        ("incomplete", _b),  # recorded without all of its spans (docs/otel.md)
    ]
)

ROUNDS = pa.schema(
    [
        ("invocation_id", _s),
        ("round_index", pa.int32()),
        ("tenant", _s),
        ("date", pa.date32()),
        ("agent", _s),
        ("provider", _s),
        ("model", _s),
        ("status", _s),
        ("error_type", _s),
        ("error_message", _s),
        ("started_at", TS),
        ("ended_at", TS),
        ("latency_ms", _f),
        ("ttft_ms", _f),
        ("stop_reason", _s),
        ("input_tokens", _i),
        ("output_tokens", _i),
        ("cache_read_tokens", _i),
        ("cache_write_tokens", _i),
        ("reasoning_tokens", _i),
        ("cost_usd", COST_TYPE),
        ("unpriced", _b),
        ("price_source", _s),
        ("messages", _s),
        ("response", _s),
        ("tool_calls", _s),
        ("request_params", _s),
        ("raw_usage", _s),
        ("truncated", _s),
        ("schema_version", pa.int16()),
        # Added in schema version 2 (null in rows written before).
        *_BILLED,
        ("other_usage", _s),
        ("service_tier", _s),
        ("batch", _b),
        ("reported_cost_usd", COST_TYPE),
        ("unpriced_reason", _s),
    ]
)

TABLES = {"invocations": INVOCATIONS, "rounds": ROUNDS}

# Columns holding JSON text (documented in docs/schema.md).
JSON_COLUMNS = {
    "invocations": ("variables", "system_variables", "attachments", "memory_context", "truncated"),
    "rounds": ("messages", "tool_calls", "request_params", "raw_usage", "truncated", "other_usage"),
}


def file_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of a Parquet part file: the table schema without partition keys."""
    return pa.schema([f for f in schema if f.name not in PARTITION_KEYS])


def empty_table(schema: pa.Schema) -> pa.Table:
    """A table of no rows in ``schema``. Not ``schema.empty_table()``: that builds each column with
    ``pa.array([])``, and pyarrow's first ``pa.array`` of a Python object imports pandas to ask whether it
    is a pandas object (0.24 s, the biggest part of opening a Warehouse); ``pa.nulls`` asks nothing."""
    return pa.Table.from_arrays([pa.nulls(0, f.type) for f in schema], schema=schema)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in ``schema``'s columns and order: columns an older writer did not have are
    added as nulls (the schema only grows), then every column is cast to its type."""
    names = table.schema.names
    if names == schema.names:  # the common case: written by this version
        return table if table.schema == schema else table.cast(schema)
    present = set(names)
    for f in schema:
        if f.name not in present:
            table = table.append_column(f, pa.nulls(table.num_rows, f.type))
    return table.select(schema.names).cast(schema)
