"""C-MAPSS replay devices: turbofan engines that run to failure, cycle by cycle.

Optional (``--cmapss-devices N``): each device replays one unit of a C-MAPSS file through
``simulators.cmapss_replay`` (one cycle per reading), and when the unit's record ends
(the engine failed, in a training file) the engine is swapped and the next unit starts.
Their faults come from the fault model's predictions, not from threshold rules, so they
are reported apart (``truth.messages``) and not in the rule-fault figures.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from models.fault.cmapss import CmapssData, load_cmapss
from models.fault_models import CMAPSS_FD001
from simulators.catalog import AssetModelSpec, MetricSpec
from simulators.cmapss_replay import unit_readings

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "data" / "cmapss" / "train_FD001.txt"
TURBOFAN = AssetModelSpec(
    id="turbofan-cmapss",
    name="Turbofan (C-MAPSS replay)",
    metrics=(MetricSpec("s11", 47.5, 0.3),),
    rules=(),
    required_skills=("hvac",),
    service_minutes=60,
    fault_model=CMAPSS_FD001,
)


class TurbofanDevice:
    """Yields one C-MAPSS cycle per reading; moves to the next unit when one fails."""

    def __init__(self, device_id: str, data: CmapssData, first_unit_index: int) -> None:
        self.device_id = device_id
        self.data = data
        self.unit_index = first_unit_index % len(data.units)
        self.failures = 0
        self._cycles: Iterator[tuple[int, dict[str, float]]] = self._start()

    def _start(self) -> Iterator[tuple[int, dict[str, float]]]:
        return unit_readings(self.data, self.data.units[self.unit_index])

    @property
    def unit(self) -> int:
        return self.data.units[self.unit_index]

    def reading(self, _ts_ms: int) -> dict[str, float]:
        for _cycle, metrics in self._cycles:
            return {k: round(v, 4) for k, v in metrics.items()}
        self.failures += 1  # end of record: the engine failed and is replaced
        self.unit_index = (self.unit_index + 1) % len(self.data.units)
        self._cycles = self._start()
        return self.reading(_ts_ms)


def turbofans(prefix: str, count: int, path: Path = DEFAULT_FILE) -> list[TurbofanDevice]:
    if count <= 0:
        return []
    data = load_cmapss(path)
    return [TurbofanDevice(f"{prefix}-turbofan-{i + 1:03d}", data, i * 7) for i in range(count)]
