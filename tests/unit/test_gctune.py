"""The hot processes' collector settings (stack.gctune): a worker-sized batch, held while
it is processed and then dropped, triggers no collector pass at all."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from stack.gctune import GEN0_THRESHOLD, freeze_startup_objects, tune_gc


@pytest.fixture
def passes() -> Iterator[list[int]]:
    """The generations of the collector passes that run inside the test."""
    seen: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    before = gc.get_threshold()
    gc.callbacks.append(count)
    try:
        yield seen
    finally:
        gc.callbacks.remove(count)
        gc.set_threshold(*before)
        gc.unfreeze()


def batch(n: int) -> list[dict[str, object]]:
    """Like a batch of decoded readings: a few containers per record."""
    return [{"device_id": f"d-{i}", "metrics": {"t": float(i), "v": [1.0, 2.0]}}
            for i in range(n)]


def test_default_thresholds_scan_a_held_batch(passes: list[int]) -> None:
    gc.set_threshold(700, 10, 10)
    gc.collect()
    passes.clear()
    held = batch(4000)
    del held
    assert passes  # the defaults scan (and promote) the batch while it is alive


def test_tuned_thresholds_leave_a_held_batch_to_reference_counting(passes: list[int]) -> None:
    tune_gc()
    freeze_startup_objects()
    passes.clear()
    for _ in range(20):  # 20 batches of 4,000 records, each dropped after use
        held = batch(4000)
        assert len(held) * 3 < GEN0_THRESHOLD
        del held
    assert passes == []
