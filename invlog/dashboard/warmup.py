"""Warm the dashboard's server before its first visitor: import what the pages use and open the lake.

A fresh server's first page load paid for importing Polars, Plotly, DuckDB and the
warehouse, opening the lake's tables and DuckDB's first query (about 0.7 s of the
first request, measured by ``bench.dashboard_pages``). ``start()`` does that work on a
daemon thread as soon as Streamlit's runtime exists, so a first visitor who arrives a
moment later finds it done (Plotly's trace validators loaded too), and one who arrives
at once waits no longer than before (the imports hold the same locks). The objects start-up made
are then frozen out of the cyclic collector's sight (``gc.freeze``). A failure here is logged and changes nothing: the
page opens the lake itself and shows the error as it always does.
"""

from __future__ import annotations

import gc
import importlib
import logging
import threading
import time

log = logging.getLogger("invlog.dashboard")
# pandas: Streamlit's st.dataframe imports it on a page's first table (0.24 s); nothing of ours needs it
MODULES = ("polars", "pandas", "plotly.graph_objects", "warehouse", "warehouse.charts", "invlog.dashboard.state",
           "invlog.dashboard.fmt")


def _warm(wait: float = 60.0) -> None:
    from streamlit import runtime

    deadline = time.monotonic() + wait
    while not runtime.exists() and time.monotonic() < deadline:  # st.cache_* need the runtime at import
        time.sleep(0.05)
    try:
        for name in MODULES:
            importlib.import_module(name)
        _plotly()
        from invlog.dashboard import data

        data.warehouse(data.lake_url()).tenants()
        # What start-up made lives as long as the server: out of the collector's sight, so the
        # collections Python still runs (Streamlit's after-each-run one is off) walk only the pages' objects.
        gc.collect()
        gc.freeze()
    except Exception:  # the page reports it to the visitor; the server keeps starting
        log.warning("dashboard warm-up failed (the first page will open the lake itself)", exc_info=True)


def _plotly() -> None:
    """Plotly loads each trace type's validators on first use (0.3 s on the Overview's first run): build and
    serialise one figure of every type the pages draw, in the pages' template."""
    import plotly.graph_objects as go
    import plotly.io as pio

    from warehouse.charts import TEMPLATE

    for trace in (go.Bar(x=[1], y=[1]), go.Scatter(x=[1], y=[1]), go.Pie(labels=["a"], values=[1])):
        pio.to_json(go.Figure(trace, layout=go.Layout(template=TEMPLATE, title="warm-up")))


def start() -> threading.Thread:
    thread = threading.Thread(target=_warm, name="invlog-warmup", daemon=True)
    thread.start()
    return thread
