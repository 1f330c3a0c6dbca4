"""Test helper: read a lake table back with pyarrow, on any filesystem the Lake wraps.

Deliberately independent of the warehouse: it lists part files, reads each with
pyarrow and re-attaches the partition columns from the path, so the recorder's
tests check the files themselves, not another reader's interpretation.
"""

from __future__ import annotations

import datetime as dt
import io

import pyarrow as pa
import pyarrow.parquet as pq

from invlog.lake import TABLES, Lake, file_schema


def part_files(lake: Lake, table: str) -> list[str]:
    return [p for p in lake.find(table) if p.endswith(".parquet") and "/." not in p and "/_delta_log/" not in p]


def read_table(lake: Lake, table: str) -> pa.Table:
    schema = TABLES[table]
    pieces = []
    for rel in part_files(lake, table):
        t = pq.read_table(io.BytesIO(lake.read(rel)))
        assert t.schema.equals(file_schema(schema)), f"{rel}: unexpected schema {t.schema}"
        parts = dict(seg.split("=", 1) for seg in rel.split("/") if "=" in seg)
        n = t.num_rows
        t = t.append_column("tenant", pa.array([parts["tenant"]] * n, pa.string()))
        t = t.append_column("date", pa.array([dt.date.fromisoformat(parts["date"])] * n, pa.date32()))
        pieces.append(t.select(schema.names))
    if not pieces:
        return schema.empty_table()
    return pa.concat_tables(pieces)


def rows(lake: Lake, table: str) -> list[dict]:
    return read_table(lake, table).to_pylist()
