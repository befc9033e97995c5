"""A 10-minute simulated day at 60x on the real stack: faults -> orders -> visits -> closed.

The drain runs until every order the run created is closed or cancelled (bounded here by
two simulated hours, so a stuck order fails with its report rather than a time-out).

Runs ``fieldflow simulate`` against the session stack (it must not start its own) and
checks the report against the simulator's truth: every injected fault produced exactly
one work order, every order reached ``closed``, every true arrival was checked in.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from simulators.scenario import ScenarioOptions, build_scenario, plan_faults
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

ARGS = {"duration": 600, "speed": 60, "seed": 11, "engineers": 5, "sites": 6, "devices": 9,
        "fault-rate": 2.0, "city-radius": 1500, "service-scale": 0.3, "drain-max": 7200}


def test_simulated_day_closes_every_fault(stack: Stack, tmp_path: Path) -> None:
    planned = plan_faults(build_scenario(ScenarioOptions(
        engineers=5, sites=6, devices=9, fault_rate=2.0, duration_s=600, seed=11,
        city_radius_m=1500), 0))
    assert len(planned) >= 2, "the seed must inject faults for this test to mean anything"
    report_path = tmp_path / "report.json"
    argv = [f"--{k}={v}" for k, v in ARGS.items()]
    t0 = time.monotonic()
    run = stack.cli("simulate", *argv, "--no-progress", f"--report={report_path}", timeout=420)
    wall = time.monotonic() - t0
    assert run.returncode == 0, run.stdout + run.stderr
    assert "starting one" not in run.stdout, "simulate must reuse the running stack"
    report = json.loads(report_path.read_text())
    detail = report["detail"]
    context = json.dumps({k: v for k, v in report.items() if k != "truth"}, indent=1,
                         default=str)[:4000]

    # Wall time is reported, not asserted (tests never assert on wall-clock time).
    print(f"simulated {report['run']['simulated_s']:.0f} s in {wall:.0f} s of wall time")
    assert report["run"]["missing_endpoints"] == [], context
    assert report["faults_injected"] >= 2, context
    # every injected fault produced exactly one work order (and no order came from nowhere)
    assert detail["faults_without_order"] == [], context
    assert report["duplicate_orders"] == 0, context
    assert report["orders_created"] == report["faults_injected"], context
    # every order reached closed
    assert detail["orders_not_closed"] == {}, context
    assert report["orders_still_open"] == {}, context
    assert report["orders_closed"] == report["orders_created"], context
    # every true arrival was checked in by the platform's geofence
    assert report["arrivals_true"] >= 1, context
    assert report["checkins_detected"] == report["arrivals_true"], context
    assert report["onset_to_order_s_p50"] is not None and report["onset_to_order_s_p50"] >= 0
    assert report["onset_to_onsite_s_p50"] is not None
    for png in ("report-map.png", "report-latency.png"):
        assert (tmp_path / png).stat().st_size > 1000
