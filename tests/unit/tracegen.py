"""Test-only generator of noisy engineer traces with known geofence truth.

An engineer drives (straight legs, 8-15 m/s) to a few sites, dwells 5-30 min near each
centre and leaves; legs are planted with drive-through sites (the road passes through
their fence, no stop) and some traces stand still right at a fence edge. Fixes every
~30 s carry GPS noise (15 m per axis), 2% outliers (100 m - 2 km off, half of them
claiming good accuracy), 3% fixes with bad accuracy, 2% duplicates, and arrive out of
order (each delayed 0..``max_delay_s``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from models.geo import haversine_m, offset_m
from models.messages import Position
from streams.geofence import Fence

ORIGIN = (52.37, 4.89)
RADIUS_M = 100.0


@dataclass(frozen=True)
class TruthEvent:
    site_id: str
    kind: str  # "enter" | "exit"
    ts: int


@dataclass
class Trace:
    engineer_id: str
    fences: list[Fence]
    positions: list[Position]  # in arrival order
    truth: list[TruthEvent]
    edge_sites: dict[str, tuple[int, int]] = field(default_factory=dict)  # site -> stand window
    pass_sites: list[str] = field(default_factory=list)


@dataclass
class _Leg:
    t0: float
    t1: float
    a: tuple[float, float]
    b: tuple[float, float]


def _far_from(p: tuple[float, float], others: list[Fence], min_m: float) -> bool:
    return all(haversine_m(p[0], p[1], f.lat, f.lon) >= min_m for f in others)


def _others(fences: list[Fence], me: Fence) -> list[Fence]:
    return [g for g in fences if g is not me]


def make_trace(
    seed: int, visits: int = 3, max_delay_s: float = 60.0, start_ms: int = 1_700_000_000_000,
    *, sparse: bool = False, with_speed: bool = True,
) -> Trace:
    """``sparse``: a phone that reports every 60-180 s, leaves each site at 30-60 km/h, and
    half the time stops reporting after its first fix 500 m out of its last site."""
    rng = random.Random(seed)
    interval = (60.0, 180.0) if sparse else (27.0, 33.0)
    eid = f"eng-{seed}"
    fences: list[Fence] = []
    truth: list[TruthEvent] = []
    legs: list[_Leg] = []
    edge_sites: dict[str, tuple[int, int]] = {}
    pass_sites: list[str] = []
    stops: list[Fence] = []  # places the engineer waits at that are no site
    t = 0.0
    pos = offset_m(*ORIGIN, rng.uniform(-4000, 4000), rng.uniform(-4000, 4000))

    def go(to: tuple[float, float], speed: float) -> None:
        nonlocal t, pos
        dur = haversine_m(pos[0], pos[1], to[0], to[1]) / speed
        legs.append(_Leg(t, t + dur, pos, to))
        t += dur
        pos = to

    def at_ms(leg: _Leg, frac: float) -> int:
        return start_ms + int(1000 * (leg.t0 + frac * (leg.t1 - leg.t0)))

    def stay(seconds: float) -> None:
        nonlocal t
        legs.append(_Leg(t, t + seconds, pos, pos))
        t += seconds

    for k in range(visits + 1):
        while True:
            site = offset_m(*ORIGIN, rng.uniform(-4000, 4000), rng.uniform(-4000, 4000))
            if _far_from(site, fences + stops, 600) and haversine_m(*pos, *site) > 1500:
                break
        speed = rng.uniform(8, 15)
        # plant a drive-through site on the way
        frac = rng.uniform(0.3, 0.7)
        mid = (pos[0] + frac * (site[0] - pos[0]), pos[1] + frac * (site[1] - pos[1]))
        mid = offset_m(*mid, rng.uniform(-40, 40), rng.uniform(-40, 40))
        if _far_from(mid, fences + stops, 600) and haversine_m(*mid, *site) > 600:
            fences.append(Fence(f"pass-{seed}-{k}", mid[0], mid[1], RADIUS_M))
            pass_sites.append(fences[-1].site_id)
        edge = k == visits and rng.random() < 0.5
        sid = f"{'edge' if edge else 'site'}-{seed}-{k}"
        fence = Fence(sid, site[0], site[1], RADIUS_M)
        fences.append(fence)
        if edge:  # approach radially and stand right at the fence edge
            bearing = rng.uniform(0, 2 * math.pi)
            at_r = RADIUS_M + rng.uniform(-5, 5)
            outer = offset_m(*site, 400 * math.cos(bearing), 400 * math.sin(bearing))
            spot = offset_m(*site, at_r * math.cos(bearing), at_r * math.sin(bearing))
            go(outer, speed)
            go(spot, 5.0)
            t_stand = t
            stay(rng.uniform(600, 1800))
            edge_sites[sid] = (start_ms + int(t_stand * 1000), start_ms + int(t * 1000))
            go(outer, 5.0)
            continue
        spot = offset_m(*site, rng.uniform(-35, 35), rng.uniform(-35, 35))
        go(spot, speed)
        iv = fence.segment_inside(legs[-1].a, legs[-1].b)
        assert iv is not None
        truth.append(TruthEvent(sid, "enter", at_ms(legs[-1], iv[0])))
        stay(rng.uniform(300, 1800))
        away = offset_m(*site, rng.uniform(-1500, 1500), rng.uniform(-1500, 1500))
        while haversine_m(*away, *site) < 800 or not _far_from(away, fences, 400):
            away = offset_m(*site, rng.uniform(-1500, 1500), rng.uniform(-1500, 1500))
        go(away, rng.uniform(30 / 3.6, 60 / 3.6) if sparse else speed)
        stops.append(Fence("stop", away[0], away[1], 0))
        iv = fence.segment_inside(legs[-1].a, legs[-1].b)
        assert iv is not None
        truth.append(TruthEvent(sid, "exit", at_ms(legs[-1], iv[1])))
    stay(600)
    fences = [f for f in fences if _far_from((f.lat, f.lon), _others(fences, f), 450)]
    kept = {f.site_id for f in fences}
    truth = [e for e in truth if e.site_id in kept]

    positions: list[Position] = []
    sample_t = 0.0
    li = 0
    while sample_t < t:
        while legs[li].t1 < sample_t:
            li += 1
        leg = legs[li]
        f = 0.0 if leg.t1 == leg.t0 else (sample_t - leg.t0) / (leg.t1 - leg.t0)
        lat = leg.a[0] + f * (leg.b[0] - leg.a[0])
        lon = leg.a[1] + f * (leg.b[1] - leg.a[1])
        acc = rng.uniform(8, 25)
        roll = rng.random()
        if roll < 0.02:  # outlier
            d, b = rng.uniform(100, 2000), rng.uniform(0, 2 * math.pi)
            lat, lon = offset_m(lat, lon, d * math.cos(b), d * math.sin(b))
            acc = acc if rng.random() < 0.5 else rng.uniform(150, 500)
        elif roll < 0.05:  # poor fix, honestly reported
            acc = rng.uniform(150, 400)
            lat, lon = offset_m(lat, lon, rng.gauss(0, acc / 2), rng.gauss(0, acc / 2))
        else:
            lat, lon = offset_m(lat, lon, rng.gauss(0, 15), rng.gauss(0, 15))
        ts = start_ms + int(sample_t * 1000)
        moving = leg.t1 > leg.t0 and leg.a != leg.b
        speed = (haversine_m(*leg.a, *leg.b) / (leg.t1 - leg.t0) * rng.uniform(0.9, 1.1)
                 if moving else rng.uniform(0, 0.5))  # phones report the GPS speed
        positions.append(Position(engineer_id=eid, ts=ts, lat=lat, lon=lon, accuracy_m=acc,
                                  speed_mps=speed if with_speed else None))
        if rng.random() < 0.02:
            positions.append(positions[-1])
        sample_t += rng.uniform(*interval)
    if sparse and not edge_sites and truth and rng.random() < 0.5:
        # the app stops tracking once the engineer is well on the way (its first fix
        # 500 m out after the last exit is the last one)
        last = next(f for f in fences if f.site_id == truth[-1].site_id)
        gone = next((p.ts for p in positions if p.ts > truth[-1].ts and (p.accuracy_m or 0) < 100
                     and haversine_m(p.lat, p.lon, last.lat, last.lon) > 500), None)
        positions = [p for p in positions if gone is None or p.ts <= gone]
    delays = [rng.uniform(0, max_delay_s * 1000) for _ in positions]
    order = sorted(range(len(positions)), key=lambda i: positions[i].ts + delays[i])
    return Trace(eid, fences, [positions[i] for i in order], truth, edge_sites, pass_sites)
