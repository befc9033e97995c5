"""Scenario model: seeded, reproducible, consistent, shifts that cover the run."""

from __future__ import annotations

import random

import pytest

from simulators.catalog import ASSET_MODELS, SKILLS, model_by_id, parse_rule
from simulators.scenario import ScenarioOptions, build_scenario, plan_faults, shift_for

START = 1_795_425_600_000  # 2026-11-23 09:20 UTC


def test_same_seed_same_city_and_faults() -> None:
    opts = ScenarioOptions(engineers=5, sites=7, devices=11, seed=3, fault_rate=2.0)
    a, b = build_scenario(opts, START), build_scenario(opts, START)
    assert a == b
    assert plan_faults(a) == plan_faults(b)
    other = build_scenario(ScenarioOptions(engineers=5, sites=7, devices=11, seed=4), START)
    assert [s.xy for s in other.sites] != [s.xy for s in a.sites]


def test_counts_ids_and_references() -> None:
    sc = build_scenario(ScenarioOptions(engineers=9, sites=10, devices=25), START)
    assert (len(sc.engineers), len(sc.sites), len(sc.assets)) == (9, 10, 25)
    customers = {c.id for c in sc.customers}
    sites = {s.id for s in sc.sites}
    assert all(s.customer_id in customers for s in sc.sites)
    assert all(a.site_id in sites for a in sc.assets)
    assert len({a.device_id for a in sc.assets}) == 25
    assert {c.sla_tier for c in sc.customers} <= {"platinum", "gold", "silver", "bronze"}


def test_every_model_can_be_fixed_by_someone() -> None:
    sc = build_scenario(ScenarioOptions(engineers=3, sites=3, devices=3), START)
    skills = {s for e in sc.engineers for s in e.skills}
    assert set(SKILLS) <= skills
    for m in ASSET_MODELS:
        assert set(m.required_skills) <= skills


def test_sites_inside_the_city() -> None:
    opts = ScenarioOptions(sites=50, city_radius_m=2000)
    sc = build_scenario(opts, START)
    for s in sc.sites:
        assert (s.xy[0] ** 2 + s.xy[1] ** 2) ** 0.5 <= 2000 + 1e-6
        assert abs(s.lat - opts.center[0]) < 0.05
        assert abs(s.lon - opts.center[1]) < 0.05


@pytest.mark.parametrize("hour", [0, 6, 9, 13, 20, 23])
def test_shift_covers_the_run(hour: int) -> None:
    start = START - START % 86_400_000 + hour * 3_600_000 + 17 * 60_000
    for seed in range(20):
        begin, end = shift_for(start, 7200, random.Random(seed))
        b = sum(int(x) * m for x, m in zip(begin.split(":"), (3600, 60, 1), strict=True))
        e = sum(int(x) * m for x, m in zip(end.split(":"), (3600, 60, 1), strict=True))
        now_s = start // 1000 % 86_400
        assert b <= now_s < e
        assert (e >= now_s + 7200) or (begin, end) == ("00:00:00", "23:59:59")


def test_fault_plan_rate_and_window() -> None:
    opts = ScenarioOptions(devices=40, fault_rate=3.0, duration_s=3600, seed=11)
    plans = plan_faults(build_scenario(opts, START))
    assert 60 <= len(plans) <= 160  # ~40 x 3 x 0.9
    assert all(opts.warmup_s <= p.at_s < 0.9 * opts.duration_s for p in plans)
    assert [p.at_s for p in plans] == sorted(p.at_s for p in plans)
    assert not plan_faults(build_scenario(ScenarioOptions(fault_rate=0.0), START))


def test_rules_parse_and_name_their_metrics() -> None:
    for m in ASSET_MODELS:
        assert model_by_id(m.id) is m
        for spec in m.rule_specs():
            assert m.metric(spec.metric).name == spec.metric
    r = parse_rule("temperature > 90 for 2m clear at 85 after 120s severity critical as hot")
    assert (r.metric, r.above, r.threshold, r.for_s, r.fault_type) == (
        "temperature", True, 90.0, 120.0, "hot")
    assert parse_rule("pressure < 2").fault_type == "pressure_low"
    with pytest.raises(ValueError, match="cannot parse"):
        parse_rule("nonsense")


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ScenarioOptions(engineers=0)
    with pytest.raises(ValueError, match="positive"):
        ScenarioOptions(speed=0)
