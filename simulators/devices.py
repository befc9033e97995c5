"""Device models: healthy readings with gaussian noise, faults that develop and heal.

A fault breaks one of the asset model's threshold rules: ``drift`` ramps the metric past
the threshold over a few minutes, ``spike`` jumps there at once; either stays past it
(so the rule's ``for`` clause is met) until an engineer completes an order on the asset.
Rare single-sample blips stay shorter than any rule's hold time and must not open an
alert. Pure and seeded: the runner asks for readings at event times.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from simulators.catalog import AssetModelSpec, RuleSpec
from simulators.scenario import Asset

DRIFT_RAMP_S = 180.0
BLIP_P = 0.002


@dataclass
class FaultTruth:
    """What really happened to a device (the simulator's ground truth)."""

    fault_id: str
    device_id: str
    asset_id: str
    site_id: str
    fault_type: str
    metric: str
    kind: str
    onset_ms: int
    detectable_ms: int  # past the threshold and held for the rule's ``for`` time
    healed_ms: int | None = None
    work_order_id: str | None = None


def fault_target(rule: RuleSpec, mean: float, sd: float) -> float:
    """A value safely past the threshold (noise cannot bring it back across)."""
    margin = 6 * sd + 0.05 * abs(rule.threshold)
    return rule.threshold + margin if rule.above else rule.threshold - margin


def crossing_s(rule: RuleSpec, mean: float, target: float, kind: str) -> float:
    """Seconds after onset when the (noise-free) value crosses the threshold."""
    if kind == "spike" or target == mean:
        return 0.0
    frac = (rule.threshold - mean) / (target - mean)
    return max(0.0, min(1.0, frac)) * DRIFT_RAMP_S


@dataclass
class DeviceSim:
    """One device on one asset. ``reading(ts)`` gives its metrics at an event time."""

    asset: Asset
    model: AssetModelSpec
    rng: random.Random
    fault: FaultTruth | None = None
    available_at_ms: int = 0  # no new fault before this (previous one fully cleared)
    history: list[FaultTruth] = field(default_factory=list)
    _rule: RuleSpec | None = None
    _target: float = 0.0

    @property
    def device_id(self) -> str:
        return self.asset.device_id

    def start_fault(self, rule_index: int, kind: str, ts_ms: int) -> FaultTruth:
        rule = self.model.rule_specs()[rule_index % len(self.model.rules)]
        spec = self.model.metric(rule.metric)
        self._rule = rule
        self._target = fault_target(rule, spec.mean, spec.sd)
        cross = crossing_s(rule, spec.mean, self._target, kind)
        self.fault = FaultTruth(
            fault_id=f"{self.device_id}#{len(self.history) + 1}",
            device_id=self.device_id,
            asset_id=self.asset.id,
            site_id=self.asset.site_id,
            fault_type=rule.fault_type,
            metric=rule.metric,
            kind=kind,
            onset_ms=ts_ms,
            detectable_ms=ts_ms + int((cross + rule.for_s) * 1000),
        )
        self.history.append(self.fault)
        return self.fault

    def heal(self, ts_ms: int, cooldown_s: float = 300.0) -> FaultTruth | None:
        """The engineer fixed it: readings are healthy again from ``ts_ms``."""
        fault, self.fault = self.fault, None
        if fault is not None:
            fault.healed_ms = ts_ms
        self.available_at_ms = ts_ms + int(cooldown_s * 1000)
        return fault

    def can_fail(self, ts_ms: int) -> bool:
        return self.fault is None and ts_ms >= self.available_at_ms

    def reading(self, ts_ms: int) -> dict[str, float]:
        out: dict[str, float] = {}
        for spec in self.model.metrics:
            value = self.rng.gauss(spec.mean, spec.sd)
            f, rule = self.fault, self._rule
            if (f is not None and rule is not None and rule.metric == spec.name
                    and ts_ms >= f.onset_ms):  # a backlog before the onset is still healthy
                progress = 1.0
                if f.kind == "drift":
                    progress = min(1.0, max(0.0, (ts_ms - f.onset_ms) / 1000 / DRIFT_RAMP_S))
                value += (self._target - spec.mean) * progress
            elif self.rng.random() < BLIP_P:
                value = spec.mean + 5 * spec.sd  # a glitch: odd, but inside every rule
            out[spec.name] = round(value, 3)
        return out
