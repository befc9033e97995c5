"""Online ETA calibration from finished trips (pure: no I/O, no wall clock).

Two forecasters of the time left, each ``straight metres x factor / speed``:

- *observed*: the engineer's smoothed moving speed now (fresh fixes only);
- *profile*: the learned time-of-day speed.

Their factors are learned, not assumed. Every fix of a trip leaves a :class:`Sample`;
when the trip ends on site at ``T`` each sample knows the true time left ``r = T - ts``,
so ``k = r x speed / straight`` is what its factor should have been. ``k`` is kept (in
logs, as a decaying mean and variance) per cell: how far away the site is (distance
band) and how well the engineer's heading points at it (cosine of the angle between
heading and bearing: a van driving straight at the site has little detour left, one
driving across has more). The ETA combines the two forecasters in log space with
inverse-variance weights (Bates-Granger): the one that has been closer on recent trips,
in this cell, counts for more. A cell with too few samples falls back to its distance
band, then to the caller's default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from models.geo import bearing_deg

BANDS_M = (1000.0, 3000.0, 8000.0)  # upper bounds of the distance bands (last: beyond)
ALIGN_BUCKETS = 8  # cos(heading - bearing) in [-1, 1] cut into this many buckets
ANY = -1  # the alignment of a band's pooled cell (and of a fix without a heading)


def band_of(straight_m: float) -> int:
    return next((i for i, b in enumerate(BANDS_M) if straight_m < b), len(BANDS_M))


def alignment_of(heading: float | None, lat: float, lon: float, site_lat: float,
                 site_lon: float) -> int:
    """The bucket of cos(angle between the heading and the bearing to the site)."""
    if heading is None:
        return ANY
    delta = math.radians(heading - bearing_deg(lat, lon, site_lat, site_lon))
    c = math.cos(delta)
    return min(ALIGN_BUCKETS - 1, int((c + 1) / 2 * ALIGN_BUCKETS))


@dataclass(frozen=True)
class Sample:
    """One fix of a trip: where it stood, and the two speeds the ETA could use."""

    ts: int
    straight_m: float
    align: int
    observed_mps: float | None
    profile_mps: float


@dataclass
class Stat:
    """Decaying mean and variance of log k (window ~``window`` samples)."""

    mean: float = 0.0
    var: float = 0.0
    n: int = 0

    def add(self, x: float, window: int) -> None:
        self.n += 1
        a = max(1.0 / self.n, 1.0 / window)
        d = x - self.mean
        self.mean += a * d
        self.var = (1 - a) * (self.var + a * d * d)


@dataclass(frozen=True)
class CalibConfig:
    window: int = 500
    min_samples: int = 40
    min_straight_m: float = 150.0  # closer: the fence, not the road, decides
    max_log_k: float = math.log(4.0)  # |log k| beyond this is a bad fix, not a detour
    var_floor: float = 0.0025  # (5% in log) no forecaster is ever taken as perfect


@dataclass
class EtaCalibration:
    config: CalibConfig = field(default_factory=CalibConfig)
    observed: dict[tuple[int, int], Stat] = field(default_factory=dict)
    profile: dict[tuple[int, int], Stat] = field(default_factory=dict)
    trips: int = 0

    def _cell(self, table: dict[tuple[int, int], Stat], band: int, align: int) -> Stat | None:
        for key in ((band, align), (band, ANY)):
            s = table.get(key)
            if s is not None and s.n >= self.config.min_samples:
                return s
        return None

    def pace(self, straight_m: float, align: int, observed_mps: float | None,
             profile_mps: float) -> float | None:
        """Seconds per straight-line metre, or None while this cell has not learned enough."""
        band = band_of(straight_m)
        prof = self._cell(self.profile, band, align)
        if prof is None:
            return None
        floor = self.config.var_floor
        log_prof = prof.mean - math.log(profile_mps)
        obs = self._cell(self.observed, band, align) if observed_mps else None
        if obs is None or not observed_mps:
            return math.exp(log_prof)
        log_obs = obs.mean - math.log(observed_mps)
        v_obs, v_prof = max(obs.var, floor), max(prof.var, floor)
        w = v_prof / (v_obs + v_prof)
        return math.exp(w * log_obs + (1 - w) * log_prof)

    def weight(self, straight_m: float, align: int) -> float | None:
        """The observed speed's share of the combination here (None: not learned yet)."""
        band = band_of(straight_m)
        obs, prof = self._cell(self.observed, band, align), self._cell(self.profile, band, align)
        if obs is None or prof is None:
            return None
        floor = self.config.var_floor
        v_obs, v_prof = max(obs.var, floor), max(prof.var, floor)
        return v_prof / (v_obs + v_prof)

    def observe(self, samples: list[Sample], arrival_ms: int) -> int:
        """Learn from a trip that ended on site at ``arrival_ms``; returns samples used."""
        cfg = self.config
        used = 0
        for s in samples:
            left_s = (arrival_ms - s.ts) / 1000
            if left_s <= 0 or s.straight_m < cfg.min_straight_m:
                continue
            band = band_of(s.straight_m)
            for speed, table in ((s.profile_mps, self.profile), (s.observed_mps, self.observed)):
                if not speed:
                    continue
                log_k = math.log(left_s * speed / s.straight_m)
                if abs(log_k) > cfg.max_log_k:
                    continue
                for key in {(band, s.align), (band, ANY)}:
                    table.setdefault(key, Stat()).add(log_k, cfg.window)
            used += 1
        self.trips += 1
        return used
