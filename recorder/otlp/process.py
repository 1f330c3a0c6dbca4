"""Settings of a process that runs the receiver (the CLI, and the benchmark the same way).

CPython's cyclic collector walks every tracked object of the generation it collects:
in a receiver that is the whole import graph (genai-prices' price models, protobuf
descriptors, pyarrow) plus every span waiting to be assembled, while nearly all of a
request's objects die by reference counting the moment it is recorded. ``gc.freeze()``
after start moves what start-up made out of the collector's sight, and a young
generation of 20,000 objects instead of 700 makes collections rare: in
``bench.otlp_ingest`` the collector's time fell from 2.6-2.9 s to 0.9-1.5 s of a
300-request run. Cycles are still collected, later. A library process (an agent's) is
never changed: only ``python -m recorder.otlp`` calls this.
"""

from __future__ import annotations

import gc

YOUNG = 20_000


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, 20, 100)
