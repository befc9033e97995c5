"""Solomon parser, DIMACS arithmetic, validator and a short solve on a real instance."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.solomon import (
    load,
    parse,
    parse_solution,
    route_distance,
    solve_instance,
    solve_instance_ortools,
    validate,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "solomon"


def test_parse_c101_and_bks_routes_validate_to_the_published_cost() -> None:
    inst = load(DATA / "instances" / "C101.txt")
    assert (inst.name, inst.vehicles, inst.capacity, len(inst.customers)) == ("C101", 25, 200, 101)
    assert inst.customers[1].x == 45 and inst.customers[1].ready == 912
    routes, cost = parse_solution((DATA / "bks_cvrplib_dimacs" / "C101.sol").read_text())
    assert validate(inst, routes) == []
    assert route_distance(inst, routes) == pytest.approx(cost)
    assert cost == pytest.approx(827.3)


def test_validator_catches_violations() -> None:
    inst = load(DATA / "instances" / "C101.txt")
    routes, _ = parse_solution((DATA / "bks_cvrplib_dimacs" / "C101.sol").read_text())
    assert any("not visited" in e for e in validate(inst, routes[1:]))
    assert any("more than once" in e for e in validate(inst, (*routes, routes[0][:1])))
    reversed_first = (tuple(reversed(routes[0])), *routes[1:])
    assert any("due" in e for e in validate(inst, reversed_first))
    merged = (routes[0] + routes[1] + routes[2], *routes[3:])
    assert any("capacity" in e for e in validate(inst, merged))


def test_parse_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="NUMBER"):
        parse("X\n\n    0 1 2 3 4 5 6\n")


def test_short_solve_is_valid_and_close_on_c101() -> None:
    inst = load(DATA / "instances" / "C101.txt")
    sol = solve_instance(inst, time_limit_s=2.0)
    assert validate(inst, sol.routes) == []
    assert sol.distance <= 827.3 * 1.05
    assert sol.distance == pytest.approx(route_distance(inst, sol.routes))


def test_our_search_on_a_tight_window_instance_is_valid() -> None:
    inst = load(DATA / "instances" / "R101.txt")
    sol = solve_instance(inst, time_limit_s=1.0)
    assert validate(inst, sol.routes) == []
    assert sol.iterations is not None and sol.iterations > 0


def test_short_ortools_solve_is_valid_on_c101() -> None:
    inst = load(DATA / "instances" / "C101.txt")
    sol = solve_instance_ortools(inst, time_limit_s=2.0)
    assert validate(inst, sol.routes) == []
    assert sol.distance <= 827.3 * 1.05
