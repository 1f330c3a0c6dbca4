"""The one definition of the lake: table schemas, partition layout and storage.

Both the writer (``recorder``) and the reader (``warehouse``) derive everything
they know about the lake from this package, so a column, a path rule or the
tenant-id rule is defined exactly once. It imports pyarrow and fsspec only.
"""

from invlog.lake.layout import (
    TENANT_RE,
    new_part_id,
    partition_path,
    validate_tenant,
)
from invlog.lake.storage import Lake, resolve_lake_url
from invlog.lake.tables import (
    COST_SCALE,
    COST_TYPE,
    INVOCATIONS,
    JSON_COLUMNS,
    PARTITION_KEYS,
    ROUNDS,
    SCHEMA_VERSION,
    STATUSES,
    TABLES,
    TRIGGERS,
    conform,
    empty_table,
    file_schema,
)

__all__ = [
    "COST_SCALE",
    "COST_TYPE",
    "INVOCATIONS",
    "JSON_COLUMNS",
    "PARTITION_KEYS",
    "ROUNDS",
    "SCHEMA_VERSION",
    "STATUSES",
    "TABLES",
    "TENANT_RE",
    "TRIGGERS",
    "Lake",
    "conform",
    "empty_table",
    "file_schema",
    "new_part_id",
    "partition_path",
    "resolve_lake_url",
    "validate_tenant",
]
