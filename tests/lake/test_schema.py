"""The schema is pinned: renaming or retyping a core column must fail here first."""

import pyarrow as pa

from invlog.lake import INVOCATIONS, PARTITION_KEYS, ROUNDS, SCHEMA_VERSION, empty_table, file_schema
from tests.support.lakeread import part_files, read_table

TS = "timestamp[us, tz=UTC]"
DEC = "decimal128(18, 12)"

# Version 2 appends (the schema only grows): the billed units beyond the five core token columns.
BILLED = [("cache_write_5m_tokens", "int64"), ("cache_write_1h_tokens", "int64"), ("input_audio_tokens", "int64"),
          ("output_audio_tokens", "int64"), ("web_search_requests", "int64")]
PINNED_INVOCATIONS = [
    ("invocation_id", "string"), ("tenant", "string"), ("date", "date32[day]"), ("agent", "string"),
    ("provider", "string"), ("model", "string"), ("trigger", "string"), ("status", "string"),
    ("error_type", "string"), ("error_message", "string"), ("started_at", TS), ("ended_at", TS),
    ("latency_ms", "double"), ("ttft_ms", "double"), ("input_tokens", "int64"), ("output_tokens", "int64"),
    ("cache_read_tokens", "int64"), ("cache_write_tokens", "int64"), ("reasoning_tokens", "int64"),
    ("cost_usd", DEC), ("unpriced", "bool"), ("round_count", "int32"), ("user_id", "string"),
    ("task_id", "string"), ("session_id", "string"), ("prompt_name", "string"), ("prompt_version", "string"),
    ("system_prompt", "string"), ("user_message", "string"), ("variables", "string"),
    ("system_variables", "string"), ("response", "string"), ("attachments", "string"),
    ("memory_context", "string"), ("truncated", "string"), ("schema_version", "int16"),
    *BILLED, ("reported_cost_usd", DEC), ("unpriced_reason", "string"),
    ("trace_id", "string"), ("incomplete", "bool"),  # version 3
]
PINNED_ROUNDS = [
    ("invocation_id", "string"), ("round_index", "int32"), ("tenant", "string"), ("date", "date32[day]"),
    ("agent", "string"), ("provider", "string"), ("model", "string"), ("status", "string"),
    ("error_type", "string"), ("error_message", "string"), ("started_at", TS), ("ended_at", TS),
    ("latency_ms", "double"), ("ttft_ms", "double"), ("stop_reason", "string"), ("input_tokens", "int64"),
    ("output_tokens", "int64"), ("cache_read_tokens", "int64"), ("cache_write_tokens", "int64"),
    ("reasoning_tokens", "int64"), ("cost_usd", DEC), ("unpriced", "bool"), ("price_source", "string"),
    ("messages", "string"), ("response", "string"), ("tool_calls", "string"), ("request_params", "string"),
    ("raw_usage", "string"), ("truncated", "string"), ("schema_version", "int16"),
    *BILLED, ("other_usage", "string"), ("service_tier", "string"), ("batch", "bool"),
    ("reported_cost_usd", DEC), ("unpriced_reason", "string"),
]


def test_columns_and_types_are_pinned():
    assert [(f.name, str(f.type)) for f in INVOCATIONS] == PINNED_INVOCATIONS
    assert [(f.name, str(f.type)) for f in ROUNDS] == PINNED_ROUNDS
    assert SCHEMA_VERSION == 3


def test_partition_keys_live_only_in_the_path(make_recorder):
    assert PARTITION_KEYS == ("tenant", "date")
    for schema in (INVOCATIONS, ROUNDS):
        assert not set(PARTITION_KEYS) & set(file_schema(schema).names)
    rec = make_recorder()
    with rec.invocation(tenant="acme", agent="a", provider="openai", model="gpt-4o") as inv:
        with inv.round(messages=[{"role": "user", "content": "x"}]) as r:
            r.set_response("y", usage={"input_tokens": 3, "output_tokens": 1})
    assert rec.flush()
    for table in ("invocations", "rounds"):
        files = part_files(rec.lake, table)
        assert len(files) == 1 and "/tenant=acme/date=" in files[0]
        import pyarrow.parquet as pq

        md = pq.read_metadata(rec.lake.path(files[0]))
        names = md.schema.to_arrow_schema().names
        assert "tenant" not in names and "date" not in names
        assert md.row_group(0).column(0).compression == "ZSTD"
        t = read_table(rec.lake, table)
        assert t.schema.field("cost_usd").type == pa.decimal128(18, 12)


def test_an_empty_table_has_the_schema_exactly_and_survives_parquet(tmp_path):
    import pyarrow.parquet as pq

    from warehouse import rollup

    for schema in (INVOCATIONS, ROUNDS, file_schema(INVOCATIONS), rollup.SCHEMA):
        t = empty_table(schema)
        assert t.num_rows == 0 and t.schema == schema == schema.empty_table().schema
        pq.write_table(t, tmp_path / "empty.parquet")
        back = pq.read_table(tmp_path / "empty.parquet", schema=schema)
        assert back.num_rows == 0 and back.schema.equals(schema)
