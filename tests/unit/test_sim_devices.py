"""Device faults cross the rule threshold long enough to be caught, and heal."""

from __future__ import annotations

import random

import pytest

from simulators.catalog import ASSET_MODELS
from simulators.devices import DRIFT_RAMP_S, DeviceSim
from simulators.scenario import Asset

T0 = 1_795_425_600_000


def device(model_index: int = 0, seed: int = 1) -> DeviceSim:
    m = ASSET_MODELS[model_index]
    return DeviceSim(Asset("a1", "s1", m.id, "d1", "SN"), m, random.Random(seed))


@pytest.mark.parametrize("model_index", range(len(ASSET_MODELS)))
def test_healthy_readings_never_break_a_rule(model_index: int) -> None:
    d = device(model_index)
    rules = d.model.rule_specs()
    for i in range(5000):
        r = d.reading(T0 + i * 10_000)
        for rule in rules:
            assert (r[rule.metric] > rule.threshold) is not rule.above or not rule.above


@pytest.mark.parametrize(("model_index", "rule_index", "kind"),
                         [(m, r, k) for m in range(3) for r in range(2)
                          for k in ("drift", "spike")])
def test_fault_holds_past_threshold_until_healed(model_index: int, rule_index: int, kind: str
                                                 ) -> None:
    d = device(model_index)
    truth = d.start_fault(rule_index, kind, T0)
    rule = d.model.rule_specs()[rule_index]
    assert truth.fault_type == rule.fault_type and truth.onset_ms == T0
    cross_ms = truth.detectable_ms - int(rule.for_s * 1000)
    assert T0 <= cross_ms <= T0 + DRIFT_RAMP_S * 1000
    for t in range(cross_ms + 15_000, cross_ms + 3_600_000, 10_000):
        assert d.reading(t)[rule.metric] > rule.threshold
    d.heal(T0 + 3_600_000, cooldown_s=300)
    assert truth.healed_ms == T0 + 3_600_000 and d.fault is None
    after = [d.reading(T0 + 3_600_000 + i * 10_000)[rule.metric] for i in range(100)]
    assert all(v < rule.threshold for v in after)
    assert not d.can_fail(T0 + 3_600_000 + 299_000) and d.can_fail(T0 + 3_900_000)


def test_spike_is_immediate_and_drift_takes_time() -> None:
    spike, drift = device(), device()
    s = spike.start_fault(0, "spike", T0)
    f = drift.start_fault(0, "drift", T0)
    assert s.detectable_ms < f.detectable_ms
    assert s.detectable_ms == T0 + 60_000  # "temperature > 48 for 60s"


@pytest.mark.parametrize("kind", ["drift", "spike"])
def test_a_backlog_read_after_the_onset_is_healthy_before_it(kind: str) -> None:
    """The runner may read a late device's backlog after a fault started (a slow step at
    60x): readings dated before the onset must not show the fault, or the platform's
    alert would predate the fault it reports."""
    d = device()
    rule = d.model.rule_specs()[0]
    d.start_fault(0, kind, T0 + 600_000)
    before = [d.reading(T0 + i * 10_000)[rule.metric] for i in range(60)]
    assert all(v < rule.threshold for v in before)
    assert d.reading(T0 + 600_000 + DRIFT_RAMP_S * 1000)[rule.metric] > rule.threshold
