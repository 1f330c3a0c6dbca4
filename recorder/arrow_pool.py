"""pyarrow's memory pool in a recording process: jemalloc (else the system allocator), not mimalloc.

pyarrow 26 allocates from mimalloc by default, which hands freed pages back to the
kernel and faults them in again batch after batch, each fault zeroing a 2 MiB huge
page: on the OTLP receiver that was a fifth of its core (``perf``: ``clear_page_erms``)
and 8-9k instead of 10.7-11.2k model-call spans/s in ``bench.otlp_ingest``; the
recorder's own write path gains too. The pool is process-wide (pyarrow has one
default), so a user's choice wins: with ``ARROW_DEFAULT_MEMORY_POOL`` set, nothing is
changed. Arrays already allocated keep the pool they came from.
"""

from __future__ import annotations

import os

import pyarrow as pa


def use_recording_pool() -> str:
    """Switch pyarrow's default pool away from mimalloc unless the user chose one; returns the pool in use."""
    current = pa.default_memory_pool()
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL") or current.backend_name != "mimalloc":
        return str(current.backend_name)
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without jemalloc
        pool = pa.system_memory_pool()
    pa.set_memory_pool(pool)
    return str(pool.backend_name)
