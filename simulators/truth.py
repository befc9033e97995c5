"""What really happened in a run: fault onsets, arrivals, positions, sampled ETAs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from simulators.devices import FaultTruth
from simulators.etaeval import Fix, Published, TripTruth


@dataclass(frozen=True)
class Arrival:
    """An engineer's van crossed into a site's fence (true position), for an order."""

    engineer_id: str
    site_id: str
    work_order_id: str
    ts_ms: int


EtaSample = Published  # the platform's ETA for an order, computed at ``at_ms``


@dataclass
class Truth:
    started_ms: int = 0
    ended_ms: int = 0
    faults: list[FaultTruth] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    eta_samples: list[EtaSample] = field(default_factory=list)
    track: list[tuple[str, int, float, float]] = field(default_factory=list)
    # every completed trip to a site, and every fix the phones reported (ETA evaluation)
    trips: list[TripTruth] = field(default_factory=list)
    fixes: dict[str, list[Fix]] = field(default_factory=dict)
    manual_checkins: list[str] = field(default_factory=list)
    # simulated time of each manual check-in (the API stamps its own wall-clock time)
    manual_checkin_ms: dict[str, int] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "started_ms": self.started_ms,
            "ended_ms": self.ended_ms,
            "faults": [asdict(f) for f in self.faults],
            "arrivals": [asdict(a) for a in self.arrivals],
            "eta_samples": len(self.eta_samples),
            "trips": [asdict(t) for t in self.trips],
            "manual_checkins": self.manual_checkins,
            "messages": self.messages,
        }
