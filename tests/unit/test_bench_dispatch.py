"""Solomon bench bookkeeping: per-class means and reusing recorded comparison columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.dispatch import per_class
from bench.dispatch_baselines import load_baselines


def _row(name: str, gap: float | None, pv: float | None = None) -> dict[str, object]:
    return {"name": name, "gap_pct": gap, "pyvrp_gap_pct": pv, "ortools_gap_pct": None}


def test_per_class_means_worst_and_all() -> None:
    rows = [_row("C101", 0.0, 0.0), _row("C102", 1.0, 0.5), _row("R101", 3.0)]
    groups = {"C101": "C1", "C102": "C1", "R101": "R1"}
    got = {c["class"]: c for c in per_class(rows, groups)}
    assert set(got) == {"C1", "R1", "all"}
    assert (got["C1"]["mean_gap_pct"], got["C1"]["worst_gap_pct"]) == (0.5, 1.0)
    assert got["C1"]["pyvrp_mean_gap_pct"] == 0.25 and got["R1"]["pyvrp_mean_gap_pct"] is None
    assert (got["all"]["instances"], got["all"]["mean_gap_pct"]) == (3, round(4 / 3, 4))
    assert got["all"]["pyvrp_instances"] == 2


def test_baselines_from_old_and_new_records(tmp_path: Path) -> None:
    old = tmp_path / "old.json"  # before our search: "distance" was OR-Tools'
    old.write_text(json.dumps({"time_limit_s": 30.0, "instances": [
        {"name": "C101", "distance": 830.0, "pyvrp_distance": 827.3}]}))
    new = tmp_path / "new.json"
    new.write_text(json.dumps({"time_limit_s": 30.0, "solver": "sisr", "instances": [
        {"name": "C101", "distance": 827.3, "pyvrp_distance": None, "ortools_distance": 829.0},
        {"name": "R101", "distance": 1640.0, "pyvrp_distance": 1637.7,
         "ortools_distance": None}]}))
    got = load_baselines([old, new], 30.0)
    assert got == {"C101": {"pyvrp": 827.3, "ortools": 829.0}, "R101": {"pyvrp": 1637.7}}
    with pytest.raises(ValueError, match="time limit"):
        load_baselines([old], 10.0)
