"""Our SISR route search: the O(1) insertion check agrees with a full schedule, a ruin
removes each customer at most once and keeps the rest, and every operator setting
returns a feasible solution that serves each customer exactly once."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatch import sisr
from dispatch import sisr_kernel as kk


def _problem(seed: int, n: int, width: int) -> sisr.VrptwArrays:
    """``n`` random customers whose windows each fit a single-customer route, so the
    instance is feasible with ``n`` vehicles."""
    rng = np.random.default_rng(seed)
    pts = rng.integers(0, 100, size=(n + 1, 2))
    d = np.array([[math.floor(10 * math.dist(a, b)) for b in pts] for a in pts], dtype=np.int64)
    horizon = 5000
    ready = np.zeros(n + 1, dtype=np.int64)
    due = np.full(n + 1, horizon, dtype=np.int64)
    service = np.zeros(n + 1, dtype=np.int64)
    demand = np.zeros(n + 1, dtype=np.int64)
    for c in range(1, n + 1):
        service[c] = int(rng.integers(0, 100))
        latest = horizon - service[c] - d[c, 0]
        ready[c] = int(rng.integers(d[0, c], max(d[0, c], latest) + 1))
        due[c] = min(latest, ready[c] + width)
        demand[c] = int(rng.integers(1, 10))
    return sisr.VrptwArrays(d, ready, due, service, demand, capacity=30, vehicles=n)


def _violations(p: sisr.VrptwArrays, routes: list[list[int]]) -> list[str]:
    """Independent check: each customer once, capacity, windows, return by the horizon."""
    out = []
    seen = sorted(c for r in routes for c in r)
    if seen != list(range(1, len(p.ready))):
        out.append(f"customers served {seen}")
    if len(routes) > p.vehicles:
        out.append("fleet exceeded")
    for r in routes:
        if sum(p.demand[c] for c in r) > p.capacity:
            out.append(f"capacity {r}")
        t, prev = int(p.ready[0]), 0
        for c in r:
            t = max(t + p.service[prev] + p.dist[prev, c], p.ready[c])
            if t > p.due[c]:
                out.append(f"late at {c} in {r}")
            prev = c
        if t + p.service[prev] + p.dist[prev, 0] > p.due[0]:
            out.append(f"late back {r}")
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), n=st.integers(1, 14), width=st.integers(50, 3000),
       disabled=st.sets(st.sampled_from(sisr.OPERATORS)))
def test_every_operator_setting_serves_each_customer_once_feasibly(
        seed: int, n: int, width: int, disabled: set[str]) -> None:
    p = _problem(seed, n, width)
    res = sisr.solve(p, sisr.SisrConfig(time_limit_s=0.05, seed=seed,
                                        disabled=frozenset(disabled)))
    assert _violations(p, res.routes) == []
    assert res.cost == sisr.route_cost(p.dist, res.routes)


def _state(p: sisr.VrptwArrays, routes: list[list[int]]) -> tuple[np.ndarray, ...]:
    n, k = len(p.ready), p.vehicles
    rt, ln = np.zeros((k, n), dtype=np.int64), np.zeros(k, dtype=np.int64)
    early, late = np.zeros((k, n + 2), dtype=np.int64), np.zeros((k, n + 2), dtype=np.int64)
    rload, rdist = np.zeros(k, dtype=np.int64), np.zeros(k, dtype=np.int64)
    node_route, node_pos = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for r, route in enumerate(routes):
        rt[r, : len(route)] = route
        ln[r] = len(route)
    for r in range(k):
        kk.recompute(r, rt, ln, early, late, rload, rdist, node_route, node_pos, p.dist, p.ready,
                     p.due, p.service, p.demand)
    return rt, ln, early, late, rload, rdist, node_route, node_pos


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 9), width=st.integers(50, 3000))
def test_o1_insertion_check_matches_full_schedules(seed: int, n: int, width: int) -> None:
    p = _problem(seed, n, width)
    base = sisr.solve(p, sisr.SisrConfig(time_limit_s=0.02, seed=seed)).routes
    u = base[0].pop(0)  # take one customer out, then look for its best place again
    routes = [r for r in base if r]
    rt, ln, early, late, rload, _, _, _ = _state(p, routes)
    _, r, pos = kk.best_insertion(u, rt, ln, early, late, rload, p.dist, p.ready, p.due, p.service,
                                  p.demand, p.capacity, 0.0, True)
    options = []
    for k, route in enumerate([*routes, []]):
        for q in range(len(route) + 1):
            trial = [*routes, []]
            trial[k] = [*route[:q], u, *route[q:]]
            trial = [t for t in trial if t]
            if not _violations(p, trial):
                options.append(sisr.route_cost(p.dist, trial))
    assert r >= 0  # it came out of a feasible route, so at least that place fits
    chosen = [*routes, []]
    chosen[r] = [*chosen[r][:pos], u, *chosen[r][pos:]]
    chosen = [t for t in chosen if t]
    assert _violations(p, chosen) == []
    assert sisr.route_cost(p.dist, chosen) == min(options)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 14), split=st.booleans(),
       adjacent=st.booleans())
def test_ruin_removes_distinct_customers_and_keeps_the_rest_in_order(
        seed: int, n: int, split: bool, adjacent: bool) -> None:
    p = _problem(seed, n, 3000)
    routes = sisr.solve(p, sisr.SisrConfig(time_limit_s=0.02, seed=seed)).routes
    rt, ln, _, _, _, _, node_route, node_pos = _state(p, routes)
    adj = np.argsort(p.dist - np.eye(n + 1, dtype=np.int64), axis=1, kind="stable")
    k_slots = p.vehicles
    bak_rt, bak_ln = np.zeros_like(rt), np.zeros_like(ln)
    saved, touched = np.zeros(k_slots, dtype=np.bool_), np.zeros(k_slots, dtype=np.int64)
    removed, gone = np.zeros(n, dtype=np.int64), np.zeros(n + 1, dtype=np.bool_)
    flags = sisr.SisrConfig(disabled=frozenset(
        ([] if split else ["split"]) + ([] if adjacent else ["adjacent"]))).flags()
    kk.seed(seed)
    k, nt = kk.ruin(rt, ln, node_route, node_pos, adj, bak_rt, bak_ln, saved, touched, 0, removed,
                    gone, 10.0, 10.0, flags)
    out = list(removed[:k])
    kept = {r: list(rt[r, : ln[r]]) for r in range(k_slots)}
    assert len(set(out)) == len(out) and k >= 1
    assert sorted(out + [c for r in kept.values() for c in r]) == list(range(1, n + 1))
    for r, route in enumerate(routes):  # what stays keeps its order; backups are the old
        assert [c for c in route if c not in out] == kept[r]
        if saved[r]:
            assert list(bak_rt[r, : bak_ln[r]]) == route
    assert sorted(touched[:nt]) == sorted(r for r in range(k_slots) if saved[r])
    assert list(itertools.chain(*routes)) != [] and all(gone[c] for c in out)


def test_unknown_operator_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown operators"):
        sisr.SisrConfig(disabled=frozenset({"2opt"})).flags()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 14))
def test_route_ruin_empties_exactly_one_route_of_several(seed: int, n: int) -> None:
    p = _problem(seed, n, 100)
    routes = sisr.solve(p, sisr.SisrConfig(time_limit_s=0.02, seed=seed)).routes
    rt, ln, *_ = _state(p, routes)
    bak_rt, bak_ln = np.zeros_like(rt), np.zeros_like(ln)
    saved, touched = np.zeros(p.vehicles, dtype=np.bool_), np.zeros(p.vehicles, dtype=np.int64)
    removed, gone = np.zeros(n, dtype=np.int64), np.zeros(n + 1, dtype=np.bool_)
    kk.seed(seed)
    k, nt = kk.ruin_route(rt, ln, bak_rt, bak_ln, saved, touched, removed, gone)
    if len(routes) < 2:
        assert (k, nt) == (0, 0)
        return
    assert nt == 1
    r = int(touched[0])
    assert list(removed[:k]) == routes[r] and ln[r] == 0
    assert all(list(rt[q, : ln[q]]) == routes[q] for q in range(len(routes)) if q != r)
