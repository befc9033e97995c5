"""Our own VRPTW route search: SISR ruin-and-recreate with simulated annealing.

Christiaens & Vanden Berghe, "Slack Induction by String Removals for Vehicle Routing
Problems", Transportation Science 54(2), 2020. Each iteration removes a few strings
(runs of consecutive customers) from routes near a random seed customer, reinserts the
removed customers one by one at their cheapest feasible position (skipping each
position with a small "blink" probability), and accepts the result by simulated
annealing. Time windows are checked in O(1) per position from forward earliest-start
and backward latest-start times (``dispatch/sisr_kernel.py``). The inner loop is
compiled with numba; the driver here only keeps the clock and the temperature.

Operators (each can be switched off to measure what it contributes, ``OPERATORS``):
- ``adjacent``: strings are cut from routes adjacent to the seed (off: the same number
  of customers, on average, removed at random);
- ``split``: half of the strings keep a middle piece in place (split-string removal);
- ``blink``: insertion skips each position with probability ``blink_rate``;
- ``sort``: the removed customers are reinserted in one of SISR's orders (random,
  demand, far from or close to the depot); off: random only;
- ``anneal``: simulated-annealing acceptance; off: accept only no-worse solutions;
- ``route``: with probability ``route_rate`` an iteration empties one whole random route
  instead and reinserts its customers into the others (no new vehicle), the way out of
  a local optimum with one vehicle too many (C206, C208 without it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from dispatch import sisr_kernel as kk

OPERATORS = ("adjacent", "split", "blink", "sort", "anneal", "route")


@dataclass(frozen=True)
class SisrConfig:
    time_limit_s: float = 30.0
    seed: int = 1
    avg_removed: float = 10.0  # SISR's c-bar
    max_string: float = 10.0  # SISR's ln-max
    blink_rate: float = 0.01
    route_rate: float = 0.01
    t_start: float = 100.0  # annealing temperature, in the problem's cost units
    t_end: float = 1.0
    disabled: frozenset[str] = frozenset()

    def flags(self) -> np.ndarray:
        unknown = self.disabled - set(OPERATORS)
        if unknown:
            raise ValueError(f"unknown operators {sorted(unknown)}; known: {OPERATORS}")
        return np.array([0 if op in self.disabled else 1 for op in OPERATORS], dtype=np.int64)


@dataclass(frozen=True)
class VrptwArrays:
    """A VRPTW as integer arrays; node 0 is the depot (its window is the horizon)."""

    dist: np.ndarray  # (n, n) travel time = arc cost
    ready: np.ndarray
    due: np.ndarray
    service: np.ndarray
    demand: np.ndarray
    capacity: int
    vehicles: int


@njit(cache=True)
def _iterate(
        iters: int,
        t0: float,
        t1: float,
        rt: np.ndarray,
        ln: np.ndarray,
        early: np.ndarray,
        late: np.ndarray,
        rload: np.ndarray,
        rdist: np.ndarray,
        node_route: np.ndarray,
        node_pos: np.ndarray,
        bak_rt: np.ndarray,
        bak_ln: np.ndarray,
        best_rt: np.ndarray,
        best_ln: np.ndarray,
        d: np.ndarray,
        ready: np.ndarray,
        due: np.ndarray,
        svc: np.ndarray,
        dem: np.ndarray,
        cap: int,
        adj: np.ndarray,
        cbar: float,
        lmax: float,
        blink: float,
        route_rate: float,
        flags: np.ndarray,
        cur: int,
        best: int,
) -> tuple[int, int, int]:
    """``iters`` ruin-and-recreate iterations, temperature t0 -> t1 geometrically;
    returns (current cost, best cost, accepted count)."""
    nk = rt.shape[0]
    ncust = d.shape[0] - 1
    saved = np.zeros(nk, dtype=np.bool_)
    touched = np.zeros(nk, dtype=np.int64)
    removed = np.zeros(ncust, dtype=np.int64)
    gone = np.zeros(ncust + 1, dtype=np.bool_)
    accepted = 0
    brate = blink if flags[kk.F_BLINK] == 1 else 0.0
    for it in range(iters):
        temp = t0 * (t1 / t0) ** (it / iters) if flags[kk.F_ANNEAL] == 1 else 0.0
        k, nt = 0, 0
        whole = flags[kk.F_ROUTE] == 1 and np.random.random() < route_rate
        if whole:
            k, nt = kk.ruin_route(rt, ln, bak_rt, bak_ln, saved, touched, removed, gone)
        if not whole or k == 0:
            whole = False
            k, nt = kk.ruin(rt, ln, node_route, node_pos, adj, bak_rt, bak_ln, saved, touched,
                            0, removed, gone, cbar, lmax, flags)
        for i in range(nt):
            kk.recompute(touched[i], rt, ln, early, late, rload, rdist, node_route, node_pos,
                         d, ready, due, svc, dem)
        ok = True
        for u in kk._order(removed, k, d, dem, flags[kk.F_SORT] == 1):
            _, r, p = kk.best_insertion(u, rt, ln, early, late, rload, d, ready, due, svc, dem,
                                        cap, brate, not whole)
            if r < 0:
                ok = False
                break
            nt = kk._touch(r, rt, ln, bak_rt, bak_ln, saved, touched, nt)
            kk.insert_at(u, r, p, rt, ln)
            kk.recompute(r, rt, ln, early, late, rload, rdist, node_route, node_pos,
                         d, ready, due, svc, dem)
        new = rdist.sum()
        if ok and new <= cur - temp * math.log(np.random.random()):
            cur = new
            accepted += 1
            if cur < best:
                best = cur
                best_rt[:, :] = rt
                best_ln[:] = ln
        else:
            for i in range(nt):
                r = touched[i]
                ln[r] = bak_ln[r]
                for q in range(bak_ln[r]):
                    rt[r, q] = bak_rt[r, q]
                kk.recompute(r, rt, ln, early, late, rload, rdist, node_route, node_pos,
                             d, ready, due, svc, dem)
        for i in range(nt):
            saved[touched[i]] = False
        for i in range(k):
            gone[removed[i]] = False
    return cur, best, accepted


@njit(cache=True)
def _construct(
        rt: np.ndarray,
        ln: np.ndarray,
        early: np.ndarray,
        late: np.ndarray,
        rload: np.ndarray,
        rdist: np.ndarray,
        node_route: np.ndarray,
        node_pos: np.ndarray,
        d: np.ndarray,
        ready: np.ndarray,
        due: np.ndarray,
        svc: np.ndarray,
        dem: np.ndarray,
        cap: int,
) -> bool:
    """Cheapest insertion of every customer, farthest from the depot first."""
    order = np.argsort(-d[0, 1:]) + 1
    for u in order:
        _, r, p = kk.best_insertion(u, rt, ln, early, late, rload, d, ready, due, svc, dem,
                                    cap, 0.0, True)
        if r < 0:
            return False
        kk.insert_at(u, r, p, rt, ln)
        kk.recompute(r, rt, ln, early, late, rload, rdist, node_route, node_pos, d, ready,
                     due, svc, dem)
    return True


@dataclass(frozen=True)
class SisrResult:
    routes: list[list[int]]
    cost: int
    iterations: int


DEFAULT = SisrConfig()


def solve(p: VrptwArrays, cfg: SisrConfig = DEFAULT) -> SisrResult:
    """Routes (depot excluded) minimising total ``dist``; raises ``RuntimeError`` when
    cheapest insertion finds no feasible start within the fleet."""
    d = np.ascontiguousarray(p.dist, dtype=np.int64)
    n = d.shape[0]
    nk = p.vehicles
    ready, due = p.ready.astype(np.int64), p.due.astype(np.int64)
    svc, dem = p.service.astype(np.int64), p.demand.astype(np.int64)
    rt = np.zeros((nk, n), dtype=np.int64)
    ln = np.zeros(nk, dtype=np.int64)
    early = np.zeros((nk, n + 2), dtype=np.int64)
    late = np.zeros((nk, n + 2), dtype=np.int64)
    rload = np.zeros(nk, dtype=np.int64)
    rdist = np.zeros(nk, dtype=np.int64)
    node_route = np.zeros(n, dtype=np.int64)
    node_pos = np.zeros(n, dtype=np.int64)
    for r in range(nk):
        kk.recompute(r, rt, ln, early, late, rload, rdist, node_route, node_pos, d, ready,
                     due, svc, dem)
    kk.seed(cfg.seed)
    if not _construct(rt, ln, early, late, rload, rdist, node_route, node_pos, d, ready, due, svc,
                      dem, p.capacity):
        raise RuntimeError("no feasible start by cheapest insertion within the fleet")
    adj = np.argsort(d + np.eye(n, dtype=np.int64) * -1, axis=1, kind="stable")
    bak_rt, bak_ln = np.zeros_like(rt), np.zeros_like(ln)
    best_rt, best_ln = rt.copy(), ln.copy()
    cur = best = int(rdist.sum())
    flags = cfg.flags()
    t0 = time.perf_counter()
    block, done = 200, 0
    while True:
        frac = (time.perf_counter() - t0) / cfg.time_limit_s
        if frac >= 1.0:
            break
        t_a = cfg.t_start * (cfg.t_end / cfg.t_start) ** frac
        b0 = time.perf_counter()
        cur, best, _ = _iterate(block, t_a, t_a, rt, ln, early, late, rload, rdist, node_route,
                                node_pos, bak_rt, bak_ln, best_rt, best_ln, d, ready, due, svc, dem,
                                p.capacity, adj, cfg.avg_removed, cfg.max_string,
                                cfg.blink_rate, cfg.route_rate, flags, cur, best)
        done += block
        spent = time.perf_counter() - b0
        # about 50 temperature steps per second of budget left
        block = max(50, min(200_000, int(block * 0.02 / max(spent, 1e-6))))
    routes = [[int(c) for c in best_rt[r, : best_ln[r]]] for r in range(nk) if best_ln[r] > 0]
    return SisrResult(routes, best, int(done))


def route_cost(d: np.ndarray, routes: Sequence[Sequence[int]]) -> int:
    return int(sum(d[a, b] for r in routes for a, b in zip([0, *r], [*r, 0], strict=True)))


def warm_up() -> None:
    """Compile (or load from numba's cache) the kernel on a two-customer problem."""
    z = np.zeros(3, dtype=np.int64)
    solve(VrptwArrays(dist=np.ones((3, 3), dtype=np.int64) - np.eye(3, dtype=np.int64),
                      ready=z, due=z + 100, service=z, demand=z + 1, capacity=5, vehicles=2),
          SisrConfig(time_limit_s=0.01))
