"""Report math: fault -> order matching, duplicates, check-ins, ETA error, SLA, medians."""

from __future__ import annotations

import pytest

from models.geo import offset_m
from simulators.devices import FaultTruth
from simulators.etaeval import TripTruth
from simulators.report import KEYS, compute_report, format_table
from simulators.truth import Arrival, EtaSample, Truth

T0 = 1_795_425_600_000
MIN = 60_000


def fault(fid: str, asset: str, onset: int, healed: int | None = None) -> FaultTruth:
    return FaultTruth(fid, f"dev-{asset}", asset, "site-1", "overheating", "temperature",
                      "spike", onset, onset + MIN, healed)


def order(oid: str, asset: str, created: int, status: str = "closed", checkin: int | None = None,
          due: int | None = None, fault_type: str = "overheating") -> dict[str, object]:
    return {"id": oid, "asset_id": asset, "fault_type": fault_type, "status": status,
            "created_at": created, "checkin_at": checkin, "sla_due": due}


def test_one_order_per_fault_is_clean() -> None:
    truth = Truth(started_ms=T0, ended_ms=T0 + 120 * MIN,
                  faults=[fault("f1", "a1", T0, T0 + 60 * MIN), fault("f2", "a2", T0 + 5 * MIN)],
                  arrivals=[Arrival("e1", "site-1", "o1", T0 + 20 * MIN)])
    orders = [order("o1", "a1", T0 + 2 * MIN, checkin=T0 + 21 * MIN, due=T0 + 60 * MIN),
              order("o2", "a2", T0 + 8 * MIN, checkin=T0 + 50 * MIN, due=T0 + 45 * MIN)]
    geofence = [{"kind": "enter", "engineer_id": "e1", "site_id": "site-1",
                 "ts": "2026-11-23T09:41:00+00:00"}]
    r = compute_report(truth, orders, geofence)
    assert list(r)[: len(KEYS)] == list(KEYS)
    assert r["faults_injected"] == 2 and r["orders_created"] == 2
    assert r["duplicate_orders"] == 0 and r["orders_closed"] == 2
    assert r["arrivals_true"] == 1 and r["checkins_detected"] == 1
    assert r["onset_to_order_s_p50"] == 150.0  # median of 120 s and 180 s
    assert r["onset_to_onsite_s_p50"] == (21 * 60 + 45 * 60) / 2
    assert r["sla_compliance"] == 0.5
    assert r["eta_mae_s"] is None
    assert r["detail"]["faults_without_order"] == []
    assert r["orders_still_open"] == {}


def test_duplicates_missing_and_stray_orders() -> None:
    truth = Truth(started_ms=T0, ended_ms=T0 + 60 * MIN,
                  faults=[fault("f1", "a1", T0, T0 + 30 * MIN), fault("f2", "a2", T0)])
    orders = [order("o1", "a1", T0 + MIN), order("o1b", "a1", T0 + 2 * MIN, status="new"),
              order("late", "a1", T0 + 40 * MIN),  # after the heal: not this fault's
              order("other", "a2", T0 + MIN, fault_type="door_fault"),
              order("gone", "a2", T0 + MIN, status="cancelled", fault_type="door_fault"),
              order("busy", "a2", T0 + 3 * MIN, status="in_progress", fault_type="door_fault")]
    r = compute_report(truth, orders, [])
    assert r["duplicate_orders"] == 1
    assert r["detail"]["faults_without_order"] == ["f2"]
    assert sorted(r["detail"]["orders_not_from_a_fault"]) == ["busy", "gone", "late", "other"]
    assert r["detail"]["orders_not_closed"] == {"o1b": "new", "gone": "cancelled",
                                                "busy": "in_progress"}
    assert r["orders_closed"] == 3
    # cancelled is final; what the drain left open is counted apart, by state
    assert r["orders_still_open"] == {"new": 1, "in_progress": 1}
    assert "orders_still_open        new 1, in_progress 1" in format_table(r)


def test_checkin_must_match_engineer_site_and_time() -> None:
    a = Arrival("e1", "s1", "o1", T0)
    truth = Truth(started_ms=T0, ended_ms=T0 + MIN, arrivals=[a])
    wrong = [{"kind": "enter", "engineer_id": "e2", "site_id": "s1", "ts": T0},
             {"kind": "exit", "engineer_id": "e1", "site_id": "s1", "ts": T0},
             {"kind": "enter", "engineer_id": "e1", "site_id": "s1", "ts": T0 + 30 * MIN}]
    assert compute_report(truth, [], wrong)["checkins_detected"] == 0
    right = [{"kind": "enter", "engineer_id": "e1", "site_id": "s1", "ts": T0 + 90_000}]
    assert compute_report(truth, [], right)["checkins_detected"] == 1


def test_eta_error_at_horizons_beside_the_baseline() -> None:
    site = (51.5, -0.12)
    arrival = T0 + 40 * MIN
    trip = TripTruth("e1", "o1", T0 + 10 * MIN, arrival, *site)
    # a fix every minute, driving straight south onto the site at 10 m/s
    fixes = {"e1": [(T0 + m * MIN, *offset_m(*site, (40 - m) * 600.0, 0)) for m in range(10, 41)]}
    samples = [EtaSample("o1", T0 + 20 * MIN, T0 + 38 * MIN),  # 20 min before: 120 s early
               EtaSample("o1", T0 + 30 * MIN, T0 + 41 * MIN),  # 10 min before: 60 s late
               EtaSample("o1", T0 + 35 * MIN, T0 + 40 * MIN + 10_000),  # 5 min: 10 s
               EtaSample("o2", T0 + 35 * MIN, T0)]  # another order: ignored
    truth = Truth(started_ms=T0, ended_ms=T0 + 60 * MIN,
                  arrivals=[Arrival("e1", "s1", "o1", arrival)], eta_samples=samples,
                  trips=[trip], fixes=fixes)
    r = compute_report(truth, [], [], baseline_speed_mps=5.0)
    assert r["eta_mae_s"] == {"5m": 10.0, "10m": 60.0, "20m": 120.0}
    rows = r["eta"]["horizons"]
    assert [rows[h]["trips"] for h in ("5m", "10m", "20m")] == [1, 1, 1]
    assert rows["20m"]["baseline"]["mae_min"] == pytest.approx(20.0, abs=0.05)  # twice as long
    assert "baseline" in format_table(r) and "20m" in format_table(r)


def test_table_lists_every_figure() -> None:
    r = compute_report(Truth(started_ms=T0, ended_ms=T0), [], [])
    table = format_table(r)
    for key in KEYS:
        assert key in table


def test_manual_checkins_use_the_simulated_time() -> None:
    truth = Truth(started_ms=T0, ended_ms=T0 + 60 * MIN, faults=[fault("f1", "a1", T0)],
                  manual_checkins=["o1"], manual_checkin_ms={"o1": T0 + 20 * MIN})
    wall_stamp = T0 - 10 * MIN  # what the API wrote: wall clock, behind the simulated time
    orders = [order("o1", "a1", T0 + MIN, checkin=wall_stamp, due=T0 + 15 * MIN)]
    r = compute_report(truth, orders, [])
    assert r["onset_to_onsite_s_p50"] == 1200.0
    assert r["sla_compliance"] == 0.0
