"""Numba kernel of the ruin-and-recreate VRPTW search (SISR; see ``dispatch/sisr.py``).

State is a set of arrays over ``K`` route slots (a slot with length 0 is an unused
vehicle). For route ``r`` with ``n`` customers, position 0 is the depot start,
positions ``1..n`` the customers ``R[r, 0..n-1]`` and position ``n+1`` the depot end:
``E[r, p]`` is the earliest service start at position ``p`` (forward propagation) and
``LT[r, p]`` the latest start that keeps every later visit and the return on time
(backward propagation), so an insertion between ``p`` and ``p+1`` is checked in O(1).
All times and distances are integers (tenths in the Solomon convention).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# flags[i] switches one operator on (1) or off (0)
F_ADJACENT, F_SPLIT, F_BLINK, F_SORT, F_ANNEAL, F_ROUTE = 0, 1, 2, 3, 4, 5


@njit(cache=True)
def seed(s: int) -> None:
    np.random.seed(s)


@njit(cache=True)
def recompute(
        r: int,
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
) -> None:
    """Times, load and length of route ``r`` from its node list."""
    n = ln[r]
    early[r, 0] = ready[0]
    prev = 0
    load = 0
    dist = 0
    for p in range(n):
        c = rt[r, p]
        t = early[r, p] + svc[prev] + d[prev, c]
        early[r, p + 1] = t if t > ready[c] else ready[c]
        dist += d[prev, c]
        load += dem[c]
        node_route[c] = r
        node_pos[c] = p + 1
        prev = c
    early[r, n + 1] = early[r, n] + svc[prev] + d[prev, 0]
    dist += d[prev, 0]
    late[r, n + 1] = due[0]
    nxt = 0
    for p in range(n, 0, -1):
        c = rt[r, p - 1]
        t = late[r, p + 1] - d[c, nxt] - svc[c]
        late[r, p] = t if t < due[c] else due[c]
        nxt = c
    rload[r] = load
    rdist[r] = dist


@njit(cache=True)
def best_insertion(
        u: int,
        rt: np.ndarray,
        ln: np.ndarray,
        early: np.ndarray,
        late: np.ndarray,
        rload: np.ndarray,
        d: np.ndarray,
        ready: np.ndarray,
        due: np.ndarray,
        svc: np.ndarray,
        dem: np.ndarray,
        cap: int,
        blink: float,
        allow_new: bool,
) -> tuple[int, int, int]:
    """(delta, route, position) of the cheapest feasible insertion of ``u``; route -1 if
    none. Each position is skipped with probability ``blink``; one unused slot is tried
    when ``allow_new``."""
    best = 1 << 60
    best_r = -1
    best_p = -1
    tried_empty = False
    for r in range(rt.shape[0]):
        n = ln[r]
        if n == 0:
            if tried_empty or not allow_new:
                continue
            tried_empty = True
        if rload[r] + dem[u] > cap:
            continue
        for p in range(n + 1):
            if blink > 0.0 and np.random.random() < blink:
                continue
            a = 0 if p == 0 else rt[r, p - 1]
            b = 0 if p == n else rt[r, p]
            delta = d[a, u] + d[u, b] - d[a, b]
            if delta >= best:
                continue
            arr = early[r, p] + svc[a] + d[a, u]
            arr = max(arr, ready[u])
            if arr > due[u] or arr + svc[u] + d[u, b] > late[r, p + 1]:
                continue
            best = delta
            best_r = r
            best_p = p
    return best, best_r, best_p


@njit(cache=True)
def insert_at(
        u: int,
        r: int,
        p: int,
        rt: np.ndarray,
        ln: np.ndarray,
) -> None:
    n = ln[r]
    for q in range(n, p, -1):
        rt[r, q] = rt[r, q - 1]
    rt[r, p] = u
    ln[r] = n + 1


@njit(cache=True)
def _order(
        removed: np.ndarray,
        k: int,
        d: np.ndarray,
        dem: np.ndarray,
        use_sort: bool,
) -> np.ndarray:
    """SISR's recreate orders: random 4, demand desc 4, far from depot 2, close 1."""
    idx = removed[:k].copy()
    np.random.shuffle(idx)
    if not use_sort:
        return idx
    w = np.random.randint(0, 11)
    if w < 4:
        return idx
    if w < 8:
        key = -dem[idx]
    elif w < 10:
        key = -d[0, idx]
    else:
        key = d[0, idx]
    return idx[np.argsort(key, kind="mergesort")]


@njit(cache=True)
def _touch(
        r: int,
        rt: np.ndarray,
        ln: np.ndarray,
        bak_rt: np.ndarray,
        bak_ln: np.ndarray,
        saved: np.ndarray,
        touched: np.ndarray,
        nt: int,
) -> int:
    if not saved[r]:
        saved[r] = True
        bak_ln[r] = ln[r]
        for q in range(ln[r]):
            bak_rt[r, q] = rt[r, q]
        touched[nt] = r
        return nt + 1
    return nt


@njit(cache=True)
def _remove_positions(
        r: int,
        first: int,
        last: int,
        keep_from: int,
        keep_to: int,
        rt: np.ndarray,
        ln: np.ndarray,
        removed: np.ndarray,
        k: int,
        gone: np.ndarray,
) -> int:
    """Drop positions ``first..last`` (0-based in R) of route ``r`` except
    ``keep_from..keep_to`` (an empty keep range when keep_from > keep_to)."""
    n = ln[r]
    w = 0
    for q in range(n):
        c = rt[r, q]
        if first <= q <= last and not (keep_from <= q <= keep_to):
            removed[k] = c
            gone[c] = True
            k += 1
        else:
            rt[r, w] = c
            w += 1
    ln[r] = w
    return k


@njit(cache=True)
def ruin(
        rt: np.ndarray,
        ln: np.ndarray,
        node_route: np.ndarray,
        node_pos: np.ndarray,
        adj: np.ndarray,
        bak_rt: np.ndarray,
        bak_ln: np.ndarray,
        saved: np.ndarray,
        touched: np.ndarray,
        nt: int,
        removed: np.ndarray,
        gone: np.ndarray,
        cbar: float,
        lmax: float,
        flags: np.ndarray,
) -> tuple[int, int]:
    """SISR string removal around a random seed; returns (removed count, touched count)."""
    ncust = adj.shape[0] - 1
    k = 0
    if flags[F_ADJACENT] == 0:
        m = np.random.randint(1, 2 * int(cbar) + 1)
        for _ in range(m):
            c = np.random.randint(1, ncust + 1)
            if gone[c]:
                continue
            r = node_route[c]
            nt = _touch(r, rt, ln, bak_rt, bak_ln, saved, touched, nt)
            p = node_pos[c] - 1
            k = _remove_positions(r, p, p, 1, 0, rt, ln, removed, k, gone)
            for q in range(ln[r]):
                node_pos[rt[r, q]] = q + 1
        return k, nt
    used = 0
    for r in range(rt.shape[0]):
        if ln[r] > 0:
            used += 1
    avg = ncust / max(used, 1)
    ls_max = min(lmax, avg)
    ks_max = 4.0 * cbar / (1.0 + ls_max) - 1.0
    ks = int(np.random.uniform(1.0, ks_max + 1.0))
    seed_c = np.random.randint(1, ncust + 1)
    ruined = 0
    for c in adj[seed_c]:
        if ruined >= ks:
            break
        if c == 0 or gone[c] or saved[node_route[c]]:
            continue
        r = node_route[c]
        n = ln[r]
        lt_max = min(float(n), ls_max)
        slen = int(np.random.uniform(1.0, lt_max + 1.0))
        pos = node_pos[c] - 1
        nt = _touch(r, rt, ln, bak_rt, bak_ln, saved, touched, nt)
        if flags[F_SPLIT] == 1 and slen < n and np.random.random() < 0.5:
            m = 1
            while slen + m < n and np.random.random() < 0.5:
                m += 1
            span = slen + m
            lo = max(0, pos - span + 1)
            hi = min(pos, n - span)
            start = np.random.randint(lo, hi + 1)
            ks0 = start + np.random.randint(0, slen + 1)
            k = _remove_positions(r, start, start + span - 1, ks0, ks0 + m - 1,
                                  rt, ln, removed, k, gone)
        else:
            lo = max(0, pos - slen + 1)
            hi = min(pos, n - slen)
            start = np.random.randint(lo, hi + 1)
            k = _remove_positions(r, start, start + slen - 1, 1, 0, rt, ln, removed, k, gone)
        for q in range(ln[r]):
            node_pos[rt[r, q]] = q + 1
        ruined += 1
    return k, nt


@njit(cache=True)
def ruin_route(
        rt: np.ndarray,
        ln: np.ndarray,
        bak_rt: np.ndarray,
        bak_ln: np.ndarray,
        saved: np.ndarray,
        touched: np.ndarray,
        removed: np.ndarray,
        gone: np.ndarray,
) -> tuple[int, int]:
    """Empty one random route (when two or more are used): (removed count, touched)."""
    used = np.flatnonzero(ln > 0)
    if used.size < 2:
        return 0, 0
    r = used[np.random.randint(0, used.size)]
    nt = _touch(r, rt, ln, bak_rt, bak_ln, saved, touched, 0)
    k = _remove_positions(r, 0, ln[r] - 1, 1, 0, rt, ln, removed, 0, gone)
    return k, nt
