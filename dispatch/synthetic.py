"""A seeded synthetic city (engineers, orders, depots) for tests and benchmarks.

Pure and deterministic for a given seed, so timings and property tests are
reproducible. Coordinates are spread around a city centre within ``radius_m``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from dispatch.types import Depot, Engineer, LunchBreak, Visit
from models.geo import offset_m
from models.workorder import Priority

CENTRE = (51.5074, -0.1278)
SKILLS = ("electrical", "hvac", "plumbing", "gas", "lift")
PARTS = ("filter", "valve", "fuse", "pump")
HOUR = 3600


@dataclass(frozen=True)
class City:
    engineers: tuple[Engineer, ...]
    visits: tuple[Visit, ...]
    depots: tuple[Depot, ...]


def _point(rng: random.Random, radius_m: float) -> tuple[float, float]:
    return offset_m(*CENTRE, rng.uniform(-radius_m, radius_m), rng.uniform(-radius_m, radius_m))


def make_city(n_engineers: int, n_visits: int, *, seed: int = 0, radius_m: float = 15_000,
              route_len: int = 0, lunch: bool = True) -> City:
    """``n_engineers`` on 08:00-17:00 shifts with 2-3 skills and a van stock, and
    ``n_visits`` orders with 0-1 skill, 2-4 h windows; ``route_len`` of them per
    engineer (if enough) are put on that engineer's current route."""
    rng = random.Random(seed)
    engineers: list[Engineer] = []
    for i in range(n_engineers):
        stock = {p: rng.randint(0, 3) for p in PARTS}
        engineers.append(Engineer(
            id=f"E{i}", skills=frozenset(rng.sample(SKILLS, rng.randint(2, 3))),
            shift_start_s=8 * HOUR, shift_end_s=17 * HOUR, home=_point(rng, radius_m),
            van_stock=stock,
            lunch=LunchBreak(12 * HOUR, 13 * HOUR + 1800, 1800) if lunch else None,
        ))
    visits: list[Visit] = []
    for j in range(n_visits):
        start = rng.randint(8, 14) * HOUR
        lat, lon = _point(rng, radius_m)
        visits.append(Visit(
            id=f"V{j}", lat=lat, lon=lon,
            skills=frozenset(rng.sample(SKILLS, rng.randint(0, 1))),
            parts={rng.choice(PARTS): 1} if rng.random() < 0.2 else {},
            window_start_s=start, window_end_s=start + rng.randint(2, 4) * HOUR,
            service_s=rng.choice((900, 1800, 2700)),
            priority=rng.choice(list(Priority)),
        ))
    if route_len:
        engineers, visits = _with_routes(engineers, visits, route_len)
    depots = tuple(Depot(f"D{k}", *_point(rng, radius_m), stock=dict.fromkeys(PARTS, 50))
                   for k in range(3))
    return City(tuple(engineers), tuple(visits), depots)


def _with_routes(engineers: list[Engineer], visits: list[Visit],
                 route_len: int) -> tuple[list[Engineer], list[Visit]]:
    """Hand out visits as current routes, pinned (not frozen) to their engineer."""
    out_e: list[Engineer] = []
    out_v = list(visits)
    cursor = 0
    for e in engineers:
        ids: list[str] = []
        for _ in range(route_len):
            if cursor >= len(out_v):
                break
            v = out_v[cursor]
            out_v[cursor] = Visit(**{**v.__dict__, "engineer_id": e.id,
                                     "skills": v.skills & e.skills, "parts": {}})
            ids.append(v.id)
            cursor += 1
        out_e.append(Engineer(**{**e.__dict__, "route": tuple(ids)}))
    return out_e, out_v
