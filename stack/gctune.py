"""Garbage-collector settings of the hot processes (the stream worker, the bridge).

CPython's cyclic collector runs a generation-0 pass every 700 net container allocations
and promotes whatever is alive then. A worker batch holds thousands of decoded readings
for tens of milliseconds, so those passes promote each batch into the old generation,
and a full (generation-2) pass follows every ~0.7 s: measured in the worker at 20,000
readings/s, 110-180 ms each, freeing nothing (the batches are freed by reference
counting), the event loop stopped meanwhile. That was most of the p99 of
``fieldflow bench streams`` (docs/benchmarks.md).

:func:`tune_gc` raises the generation-0 threshold so that a batch is freed before a pass
sees it, and :func:`freeze_startup_objects` moves everything built at start (modules,
the app, its settings; in the worker not the fault model, which loads in a thread after)
out of the collector's sight for good. Cycles still get
collected: a generation-0 pass runs every ``GEN0_THRESHOLD`` net allocations.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 100_000  # CPython's default is 700
GEN1_THRESHOLD = 50  # generation-0 passes per generation-1 pass (default 10)
GEN2_THRESHOLD = 100  # generation-1 passes per full pass (default 10)


def tune_gc() -> None:
    """Collect rarely: call once when the process starts."""
    gc.set_threshold(GEN0_THRESHOLD, GEN1_THRESHOLD, GEN2_THRESHOLD)


def freeze_startup_objects() -> None:
    """Call when start-up is done: what exists now is never scanned again."""
    gc.collect()
    gc.freeze()
