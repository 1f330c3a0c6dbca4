"""Invocation Logs warehouse: DuckDB over the Parquet lake, one tenant per query (the spend report
and the cost trend also on Apache Spark: ``warehouse.spark``).

``from warehouse import Warehouse``; the command line is ``python -m warehouse``.
Never imports the recorder's runtime or Streamlit.
"""

from warehouse.core import SpendReport, Warehouse
from warehouse.errors import CorruptPartError, WarehouseError

__all__ = ["CorruptPartError", "SpendReport", "Warehouse", "WarehouseError"]
