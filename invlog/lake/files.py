"""Part files: the schema each table's Parquet files have, and how every one of them is written.

A part file holds a table's columns without the partition keys (``tenant`` and
``date`` live in the path and in the Delta log), so ``FILE_SCHEMAS`` is derived from
the table schemas, never written out again. ``parquet_bytes`` is the one set of
writer options for every file in the lake (parts, compacted parts, rollups, top
lists): zstd, page checksums (a reader detects a damaged page instead of returning
wrong numbers), timestamps in microseconds and never truncated silently. The whole
file is built in memory, because ``Lake.put`` publishes it in one atomic write.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from invlog.lake.tables import INVOCATIONS, ROUNDS, file_schema

FILE_SCHEMAS = {"invocations": file_schema(INVOCATIONS), "rounds": file_schema(ROUNDS)}


def parquet_bytes(table: pa.Table, *, row_group_size: int | None = None) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd", write_page_checksum=True, row_group_size=row_group_size,
                   coerce_timestamps="us", allow_truncated_timestamps=False)
    data: bytes = sink.getvalue().to_pybytes()
    return data
