"""Asset models the simulated city is built from: metrics, threshold rules, skills.

Rules use the platform's rule grammar (``metric op value for N ... as FAULT``), parsed
by ``models.rules.parse_rule``; the simulator keeps the parts it needs to make a fault
that the rule must catch (metric, direction, threshold, hold time, fault name).
"""

from __future__ import annotations

from dataclasses import dataclass

from models import rules as grammar


@dataclass(frozen=True)
class RuleSpec:
    """The parts of a threshold rule a fault must satisfy to be detected."""

    text: str
    metric: str
    above: bool
    threshold: float
    for_s: float
    fault_type: str


def parse_rule(text: str) -> RuleSpec:
    """The parts of ``text`` a fault needs, by the grammar the stream workers use
    (``models.rules.parse_rule``); ValueError if it does not parse."""
    rule = grammar.parse_rule(text)
    return RuleSpec(text, rule.metric, rule.op.startswith(">"), rule.threshold, rule.for_s,
                    rule.fault_type)


@dataclass(frozen=True)
class MetricSpec:
    """A metric's healthy behaviour: gaussian around ``mean`` with ``sd``."""

    name: str
    mean: float
    sd: float


@dataclass(frozen=True)
class AssetModelSpec:
    """One kind of equipment: what it measures, what is a fault, who can fix it."""

    id: str
    name: str
    metrics: tuple[MetricSpec, ...]
    rules: tuple[str, ...]
    required_skills: tuple[str, ...]
    service_minutes: int
    reading_timeout_s: int = 900
    fault_model: str | None = None  # watched by this fault model (models.fault_models)

    def rule_specs(self) -> tuple[RuleSpec, ...]:
        return tuple(parse_rule(r) for r in self.rules)

    def metric(self, name: str) -> MetricSpec:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)


ASSET_MODELS: tuple[AssetModelSpec, ...] = (
    AssetModelSpec(
        id="chiller-cx200",
        name="Chiller CX200",
        metrics=(MetricSpec("temperature", 38.0, 1.2), MetricSpec("vibration_rms", 2.2, 0.3)),
        rules=(
            "temperature > 48 for 60s clear at 45 after 120s severity major as overheating",
            "vibration_rms > 7 for 30s clear at 5 after 120s severity critical as bearing_wear",
        ),
        required_skills=("hvac",),
        service_minutes=40,
    ),
    AssetModelSpec(
        id="elevator-e5",
        name="Elevator E5",
        metrics=(MetricSpec("door_cycles", 12.0, 2.0), MetricSpec("motor_current", 18.0, 1.0)),
        rules=(
            "door_cycles > 35 for 120s clear at 25 after 120s severity warning as door_fault",
            "motor_current > 28 for 60s clear at 24 after 120s severity critical as motor_overload",
        ),
        required_skills=("lifts",),
        service_minutes=50,
    ),
    AssetModelSpec(
        id="ups-p3",
        name="UPS P3",
        metrics=(MetricSpec("battery_temp", 26.0, 0.8), MetricSpec("load_pct", 55.0, 4.0)),
        rules=(
            "battery_temp > 40 for 60s clear at 36 after 120s severity major as battery_overheat",
            "load_pct > 95 for 90s clear at 85 after 120s severity warning as overload",
        ),
        required_skills=("electrical",),
        service_minutes=30,
    ),
)

SKILLS: tuple[str, ...] = ("hvac", "lifts", "electrical")
PARTS: tuple[str, ...] = ("filter", "bearing", "door-sensor", "fuse", "battery-pack", "belt")
SLA_TIERS: tuple[str, ...] = ("platinum", "gold", "silver", "bronze")


def model_by_id(model_id: str) -> AssetModelSpec:
    for m in ASSET_MODELS:
        if m.id == model_id:
            return m
    raise KeyError(model_id)
