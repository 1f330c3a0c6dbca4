"""Invocation Logs: what the recorder and the warehouse share.

``invlog.lake`` is the lake's one schema and storage layer (the recorder writes it, the
warehouse reads it); ``invlog.dashboard`` holds the dashboard's helpers (access, URL state,
cached data, formatting); ``invlog.cli`` is the ``invlog`` command. Importing this package
loads none of them, so ``import recorder`` stays free of DuckDB and Streamlit.
"""

__version__ = "0.4.0.dev0"
