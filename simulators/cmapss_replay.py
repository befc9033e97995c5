"""Replay a C-MAPSS unit cycle by cycle as device readings.

Each cycle becomes one metric dict ``{"op1": .., "op2": .., "op3": .., "s1": .., ...,
"s21": ..}`` (one metric per sensor), which a simulated device publishes as a native
reading on ``fieldflow/devices/{id}/telemetry``. Pure: the MQTT side is wired elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from models.fault.cmapss import OP_NAMES, SENSOR_NAMES, CmapssData, load_cmapss

METRIC_NAMES: tuple[str, ...] = (*OP_NAMES, *SENSOR_NAMES)


def unit_readings(data: CmapssData, unit: int) -> Iterator[tuple[int, dict[str, float]]]:
    """Yield ``(cycle, metrics)`` for every cycle of ``unit``, in order."""
    rows = data.rows_of(unit)
    if rows.size == 0:
        raise KeyError(f"unit {unit} not in data (units {data.units[0]}..{data.units[-1]})")
    for r in rows:
        values = [*data.ops[r].tolist(), *data.sensors[r].tolist()]
        yield int(data.cycle[r]), dict(zip(METRIC_NAMES, values, strict=True))


def replay_file(path: str | Path, unit: int) -> Iterator[tuple[int, dict[str, float]]]:
    """Read a C-MAPSS file and yield one unit's per-cycle metric dicts."""
    yield from unit_readings(load_cmapss(path), unit)


def reading_ts(start_ms: int, cycle: int, cycle_ms: int = 1000) -> int:
    """Event time (epoch ms) for a cycle when one cycle lasts ``cycle_ms``."""
    return start_ms + (cycle - 1) * cycle_ms
