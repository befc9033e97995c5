"""The simulated city (pure, seeded, reproducible): customers, sites, assets, engineers.

``build_scenario(options, start_ms)`` returns the same city for the same options and
seed; ``plan_faults`` the same fault schedule. Nothing here does I/O.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from simulators.catalog import ASSET_MODELS, PARTS, SKILLS, SLA_TIERS, AssetModelSpec
from simulators.roads import Grid, Point

DAY_S = 86_400


@dataclass(frozen=True)
class ScenarioOptions:
    """Every knob of a run; durations are simulated seconds."""

    engineers: int = 6
    sites: int = 8
    devices: int = 12
    reading_interval_s: float = 10.0
    fault_rate: float = 1.0  # faults per device per simulated hour
    speed: float = 30.0  # simulated seconds per wall second
    max_lead_s: float | None = None  # at most this far ahead of the wall clock, then 1x
    duration_s: float = 3600.0
    seed: int = 7
    center: tuple[float, float] = (51.5072, -0.1276)
    city_radius_m: float = 2500.0
    block_m: float = 200.0
    fence_radius_m: float = 150.0
    position_interval_s: float = 10.0
    warmup_s: float = 60.0
    prefix: str = "sim"
    cmapss_devices: int = 0  # extra turbofans replaying C-MAPSS units (fault-model input)
    service_scale: float = 1.0  # multiplies the asset models' service minutes
    owntracks_share: float = 0.0  # share of phones that speak OwnTracks (bridge must map them)

    def __post_init__(self) -> None:
        if self.engineers < 1 or self.sites < 1 or self.devices < 1:
            raise ValueError("engineers, sites and devices must be at least 1")
        if self.speed <= 0 or self.duration_s <= 0 or self.reading_interval_s <= 0:
            raise ValueError("speed, duration and reading interval must be positive")
        if self.fault_rate < 0:
            raise ValueError("fault rate must not be negative")


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    sla_tier: str


@dataclass(frozen=True)
class Site:
    id: str
    customer_id: str
    name: str
    xy: Point
    lat: float
    lon: float
    fence_radius_m: float


@dataclass(frozen=True)
class Asset:
    id: str
    site_id: str
    model_id: str
    device_id: str
    serial: str


@dataclass(frozen=True)
class Engineer:
    id: str
    name: str
    skills: tuple[str, ...]
    shift_start: str  # "HH:MM:SS" UTC
    shift_end: str
    home_xy: Point
    home_lat: float
    home_lon: float
    van_stock: dict[str, int]
    speed_factor: float
    owntracks: bool = False


@dataclass(frozen=True)
class FaultPlan:
    """A fault to inject: on ``device_id`` at ``at_s`` after the start, breaking ``rule``."""

    device_id: str
    at_s: float
    rule_index: int
    kind: str  # "drift" | "spike"


@dataclass(frozen=True)
class Scenario:
    options: ScenarioOptions
    start_ms: int
    grid: Grid
    customers: tuple[Customer, ...]
    sites: tuple[Site, ...]
    assets: tuple[Asset, ...]
    engineers: tuple[Engineer, ...]
    models: tuple[AssetModelSpec, ...] = field(default=ASSET_MODELS)

    def site(self, site_id: str) -> Site:
        return next(s for s in self.sites if s.id == site_id)

    def find_site(self, site_id: str) -> Site | None:
        return next((s for s in self.sites if s.id == site_id), None)

    def asset(self, asset_id: str) -> Asset | None:
        return next((a for a in self.assets if a.id == asset_id), None)

    def asset_of_device(self, device_id: str) -> Asset:
        return next(a for a in self.assets if a.device_id == device_id)

    def model(self, model_id: str) -> AssetModelSpec:
        return next(m for m in self.models if m.id == model_id)


def _hms(seconds: float) -> str:
    s = int(seconds) % DAY_S
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def shift_for(start_ms: int, horizon_s: float, rng: random.Random) -> tuple[str, str]:
    """A UTC shift that covers the whole run: a staggered 10-12 h day shift when the run
    fits in it without crossing midnight, else round the clock (on call)."""
    start_s = (start_ms // 1000) % DAY_S
    begin = max(0.0, start_s - rng.uniform(0.5, 3.0) * 3600)
    end = max(begin + rng.uniform(10, 12) * 3600, start_s + horizon_s + 1800)
    if end >= DAY_S:
        return "00:00:00", "23:59:59"
    return _hms(begin), _hms(end)


def _point_in_city(rng: random.Random, radius: float) -> Point:
    r = radius * math.sqrt(rng.random())
    a = rng.uniform(0, 2 * math.pi)
    return r * math.cos(a), r * math.sin(a)


def build_scenario(opts: ScenarioOptions, start_ms: int) -> Scenario:
    """The city for ``opts`` (same seed, same city; ``start_ms`` only sets the shifts)."""
    rng = random.Random(opts.seed)
    grid = Grid(opts.center[0], opts.center[1], opts.block_m)
    p = opts.prefix
    n_customers = max(1, min(opts.sites, math.ceil(opts.sites / 3)))
    customers = tuple(
        Customer(f"{p}-cust-{i + 1:03d}", f"Customer {i + 1}", SLA_TIERS[i % len(SLA_TIERS)])
        for i in range(n_customers)
    )
    sites = []
    for i in range(opts.sites):
        xy = _point_in_city(rng, opts.city_radius_m)
        lat, lon = grid.to_latlon(xy)
        sites.append(
            Site(f"{p}-site-{i + 1:03d}", customers[i % n_customers].id, f"Site {i + 1}",
                 xy, lat, lon, opts.fence_radius_m)
        )
    assets = []
    for i in range(opts.devices):
        model = ASSET_MODELS[i % len(ASSET_MODELS)]
        site = sites[i % len(sites)]
        assets.append(
            Asset(f"{p}-asset-{i + 1:05d}", site.id, model.id, f"{p}-dev-{i + 1:05d}",
                  f"SN{rng.randrange(10**7):07d}")
        )
    horizon = opts.duration_s * 4 + 3600
    engineers = []
    for i in range(opts.engineers):
        # Everyone has one skill in turn (so every skill is covered), some have two.
        skills = {SKILLS[i % len(SKILLS)]}
        if rng.random() < 0.4:
            skills.add(rng.choice(SKILLS))
        home = _point_in_city(rng, opts.city_radius_m * 1.2)
        lat, lon = grid.to_latlon(home)
        start, end = shift_for(start_ms, horizon, rng)
        stock = {part: rng.randint(0, 4) for part in rng.sample(PARTS, 3)}
        engineers.append(
            Engineer(f"{p}-eng-{i + 1:03d}", f"Engineer {i + 1}", tuple(sorted(skills)), start,
                     end, home, lat, lon, stock, rng.uniform(0.9, 1.1),
                     owntracks=rng.random() < opts.owntracks_share)
        )
    return Scenario(opts, start_ms, grid, customers, tuple(sites), tuple(assets),
                    tuple(engineers))


def plan_faults(scenario: Scenario) -> list[FaultPlan]:
    """Poisson fault onsets per device at ``fault_rate`` per hour inside the run (after
    the warm-up, leaving the last tenth for detection), sorted by time."""
    opts = scenario.options
    rng = random.Random(opts.seed * 7919 + 1)
    end = opts.duration_s * 0.9
    rate_per_s = opts.fault_rate / 3600.0
    plans = []
    for asset in scenario.assets:
        model = scenario.model(asset.model_id)
        t = opts.warmup_s
        while rate_per_s > 0:
            t += rng.expovariate(rate_per_s)
            if t >= end:
                break
            plans.append(FaultPlan(asset.device_id, t, rng.randrange(len(model.rules)),
                                   rng.choice(("drift", "spike"))))
    plans.sort(key=lambda f: (f.at_s, f.device_id))
    return plans
