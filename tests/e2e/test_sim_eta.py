"""The simulator's ETA table on the real stack: horizons, our ETA and the baseline.

A short run (a few trips in a city 16 km across) through ``fieldflow simulate --json``:
the ETAs come from the platform's live feed, the truth from the simulator's vans. The
figures themselves are the benchmark's business; this checks the table is there, made
of published ETAs and true arrivals, with the baseline beside ours.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

ARGS = {"duration": 2400, "speed": 60, "seed": 13, "engineers": 3, "sites": 5, "devices": 5,
        "fault-rate": 2.0, "city-radius": 8000, "service-scale": 0.2, "drain-max": 5400,
        "eta-baseline-speed": 6.5}


def test_simulate_reports_eta_error_per_horizon_beside_the_baseline(stack: Stack,
                                                                    tmp_path: Path) -> None:
    table_path = tmp_path / "eta.json"
    argv = [f"--{k}={v}" for k, v in ARGS.items()]
    run = stack.cli("simulate", *argv, "--no-progress", f"--json={table_path}", timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "starting one" not in run.stdout, "simulate must reuse the running stack"
    out = json.loads(table_path.read_text())
    eta, context = out["eta"], json.dumps(out, indent=1)[:3000]
    assert out["run"]["seed"] == 13, context
    assert list(eta["horizons"]) == ["5m", "10m", "20m"], context
    assert eta["baseline_speed_mps"] == 6.5, context
    assert eta["published_etas"] > 0, "no ETA came through the live feed: " + context
    assert eta["trips"] >= 1, context
    for row in eta["horizons"].values():
        assert set(row) >= {"trips", "ours", "baseline", "baseline_hindsight", "gain"}, context
        assert 0 <= row["trips"] <= eta["trips"], context
    five = eta["horizons"]["5m"]
    assert five["trips"] >= 1, "no trip had a published ETA 5 min before arrival: " + context
    assert five["ours"]["mae_min"] is not None and five["ours"]["mae_min"] >= 0, context
    assert five["baseline"]["mae_min"] is not None, context
    assert five["ours"]["p90_min"] >= 0 and five["baseline"]["p90_min"] >= 0, context
    assert eta["hindsight_speed_mps"] is not None and eta["hindsight_speed_mps"] > 0, context
    # the printed table carries the same rows
    assert "ETA error vs the true arrival" in run.stdout and "baseline" in run.stdout
    print(run.stdout[run.stdout.index("ETA error"):])
