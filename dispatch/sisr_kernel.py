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
F_ADJACENT, F_SPLIT, F_BLINK, F_SORT, F_ANNEAL = 0, 1, 2, 3, 4


@njit(cache=True)
def seed(s: int) -> None:
    np.random.seed(s)


@njit(cache=True)
def recompute(r, R, L, E, LT, LOAD, DIST, node_route, node_pos, d, ready, due, svc, dem):
    """Times, load and length of route ``r`` from its node list."""
    n = L[r]
    E[r, 0] = ready[0]
    prev = 0
    load = 0
    dist = 0
    for p in range(n):
        c = R[r, p]
        t = E[r, p] + svc[prev] + d[prev, c]
        E[r, p + 1] = t if t > ready[c] else ready[c]
        dist += d[prev, c]
        load += dem[c]
        node_route[c] = r
        node_pos[c] = p + 1
        prev = c
    E[r, n + 1] = E[r, n] + svc[prev] + d[prev, 0]
    dist += d[prev, 0]
    LT[r, n + 1] = due[0]
    nxt = 0
    for p in range(n, 0, -1):
        c = R[r, p - 1]
        t = LT[r, p + 1] - d[c, nxt] - svc[c]
        LT[r, p] = t if t < due[c] else due[c]
        nxt = c
    LOAD[r] = load
    DIST[r] = dist


@njit(cache=True)
def best_insertion(u, R, L, E, LT, LOAD, d, ready, due, svc, dem, cap, blink):
    """(delta, route, position) of the cheapest feasible insertion of ``u``; route -1 if
    none. Each position is skipped with probability ``blink``; one unused slot is tried."""
    best = np.int64(1) << 60
    best_r = -1
    best_p = -1
    tried_empty = False
    for r in range(R.shape[0]):
        n = L[r]
        if n == 0:
            if tried_empty:
                continue
            tried_empty = True
        if LOAD[r] + dem[u] > cap:
            continue
        for p in range(n + 1):
            if blink > 0.0 and np.random.random() < blink:
                continue
            a = 0 if p == 0 else R[r, p - 1]
            b = 0 if p == n else R[r, p]
            delta = d[a, u] + d[u, b] - d[a, b]
            if delta >= best:
                continue
            arr = E[r, p] + svc[a] + d[a, u]
            if arr < ready[u]:
                arr = ready[u]
            if arr > due[u] or arr + svc[u] + d[u, b] > LT[r, p + 1]:
                continue
            best = delta
            best_r = r
            best_p = p
    return best, best_r, best_p


@njit(cache=True)
def insert_at(u, r, p, R, L):
    n = L[r]
    for q in range(n, p, -1):
        R[r, q] = R[r, q - 1]
    R[r, p] = u
    L[r] = n + 1


@njit(cache=True)
def _order(removed, k, d, dem, use_sort):
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
def _touch(r, R, L, BR, BL, saved, touched, nt):
    if not saved[r]:
        saved[r] = True
        BL[r] = L[r]
        for q in range(L[r]):
            BR[r, q] = R[r, q]
        touched[nt] = r
        return nt + 1
    return nt


@njit(cache=True)
def _remove_positions(r, first, last, keep_from, keep_to, R, L, removed, k, gone):
    """Drop positions ``first..last`` (0-based in R) of route ``r`` except
    ``keep_from..keep_to`` (an empty keep range when keep_from > keep_to)."""
    n = L[r]
    w = 0
    for q in range(n):
        c = R[r, q]
        if first <= q <= last and not (keep_from <= q <= keep_to):
            removed[k] = c
            gone[c] = True
            k += 1
        else:
            R[r, w] = c
            w += 1
    L[r] = w
    return k


@njit(cache=True)
def ruin(R, L, node_route, node_pos, adj, BR, BL, saved, touched, nt, removed, gone,
         cbar, lmax, flags):
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
            nt = _touch(r, R, L, BR, BL, saved, touched, nt)
            p = node_pos[c] - 1
            k = _remove_positions(r, p, p, 1, 0, R, L, removed, k, gone)
            for q in range(L[r]):
                node_pos[R[r, q]] = q + 1
        return k, nt
    used = 0
    for r in range(R.shape[0]):
        if L[r] > 0:
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
        n = L[r]
        lt_max = min(float(n), ls_max)
        ln = int(np.random.uniform(1.0, lt_max + 1.0))
        pos = node_pos[c] - 1
        nt = _touch(r, R, L, BR, BL, saved, touched, nt)
        if flags[F_SPLIT] == 1 and ln < n and np.random.random() < 0.5:
            m = 1
            while ln + m < n and np.random.random() < 0.5:
                m += 1
            span = ln + m
            lo = max(0, pos - span + 1)
            hi = min(pos, n - span)
            start = np.random.randint(lo, hi + 1)
            ks0 = start + np.random.randint(0, ln + 1)
            k = _remove_positions(r, start, start + span - 1, ks0, ks0 + m - 1,
                                  R, L, removed, k, gone)
        else:
            lo = max(0, pos - ln + 1)
            hi = min(pos, n - ln)
            start = np.random.randint(lo, hi + 1)
            k = _remove_positions(r, start, start + ln - 1, 1, 0, R, L, removed, k, gone)
        for q in range(L[r]):
            node_pos[R[r, q]] = q + 1
        ruined += 1
    return k, nt
