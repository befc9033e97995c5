"""Live ETAs for active orders, recomputed on every fix (pure: no I/O, no wall clock).

Once :class:`~streams.eta_learn.EtaCalibration` has learned from enough finished trips,
time left = great-circle(engineer, site) x a pace learned per distance band and heading
alignment, combining the engineer's smoothed moving speed and the time-of-day profile
by how well each predicted past trips. Until then (the prior): remaining = great-circle
x the region's detour factor (``TravelModel``); speed = a blend of the smoothed moving
speed (EWMA of observed speeds, stops ignored) and the learned time-of-day speed; the
smoothed speed weighs more when it is fresh and the trip is short.
An ``EtaUpdate`` is published only when the ETA moved by more than
``max(min_change_s, min_change_frac x time remaining)`` since the last publication, the
late-vs-SLA flag flipped, or ``republish_s`` of event time passed, so ``events.eta`` is
not flooded by every fix. ``on_arrival`` feeds the finished trip to the
``TravelLearner`` so detour factors and the speed profile improve per region.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from models.geo import haversine_m
from models.messages import EtaUpdate, Position
from models.travel import DEFAULT_SPEED_MPS, MIN_SPEED_MPS, TravelLearner, TravelModel, region_of
from streams.eta_learn import EtaCalibration, Sample, alignment_of


@dataclass(frozen=True)
class EtaConfig:
    min_change_s: float = 60.0
    min_change_frac: float = 0.10
    republish_s: float = 60.0
    arrived_m: float = 100.0  # closer than this: remaining 0, ETA = now
    stop_speed_mps: float = 1.0  # slower observations are stops, not driving speed
    ewma_alpha: float = 0.3
    fresh_s: float = 300.0  # smoothed speed older than this no longer counts
    max_blend: float = 0.7  # top weight of the smoothed speed against the profile
    max_speed_mps: float = 45.0


@dataclass(frozen=True)
class ActiveOrder:
    work_order_id: str
    engineer_id: str
    site_lat: float
    site_lon: float
    sla_due_ms: int | None = None
    en_route_ms: int | None = None  # when the order went en_route: the trip starts there


@dataclass
class _Motion:
    last: tuple[int, float, float] | None = None
    speed: float | None = None  # EWMA of moving speeds
    speed_ts: int = 0
    samples: int = 0


Anchor = tuple[int, float, float, float]  # (ts, lat, lon, driven_m up to this fix)
HISTORY = 128  # recent anchors kept per trip, to place its start at the en_route moment
SAMPLES = 720  # fixes of a trip kept to learn from (two hours at one fix per 10 s)


@dataclass
class _Trip:
    order: ActiveOrder
    start: tuple[int, float, float] | None = None  # where and when the trip began
    driven_m: float = 0.0  # since tracking began (start_driven_m of it before the start)
    last_pub: EtaUpdate | None = None
    anchor: tuple[int, float, float] | None = None  # last fix counted in driven_m
    last_ts: int | None = None
    history: deque[Anchor] = field(default_factory=lambda: deque(maxlen=HISTORY))
    start_driven_m: float = 0.0
    based_on: int | None = None  # the en_route time ``start`` was placed at
    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=SAMPLES))

    def __setstate__(self, state: dict[str, object]) -> None:
        """A trip from a snapshot taken before samples were kept starts with none."""
        self.__dict__.update(state)
        self.__dict__.setdefault("samples", deque(maxlen=SAMPLES))


@dataclass
class EtaEstimator:
    """ETA per active order; ``on_position`` returns the updates worth publishing."""

    learner: TravelLearner = field(default_factory=TravelLearner)
    config: EtaConfig = field(default_factory=EtaConfig)
    calibration: EtaCalibration = field(default_factory=EtaCalibration)
    _trips: dict[str, _Trip] = field(default_factory=dict)
    _motion: dict[str, _Motion] = field(default_factory=dict)

    def __setstate__(self, state: dict[str, object]) -> None:
        """Snapshots taken before the calibration existed restore without one."""
        self.__dict__.update(state)
        self.__dict__.setdefault("calibration", EtaCalibration())

    @property
    def model(self) -> TravelModel:
        return self.learner.model

    def track(self, order: ActiveOrder) -> None:
        """Start (or update: new engineer, new SLA) the ETA of an assigned/en_route order."""
        trip = self._trips.get(order.work_order_id)
        if trip is None or trip.order.engineer_id != order.engineer_id:
            self._trips[order.work_order_id] = _Trip(order)
        else:
            trip.order = order

    def tracked(self) -> set[str]:
        return set(self._trips)

    def untrack(self, work_order_id: str) -> None:
        self._trips.pop(work_order_id, None)

    def orders_of(self, engineer_id: str) -> list[str]:
        return [k for k, t in self._trips.items() if t.order.engineer_id == engineer_id]

    def on_position(self, position: Position) -> list[EtaUpdate]:
        """Recompute the ETA of every order of this engineer; return those to publish."""
        self._observe_motion(position)
        out = []
        for trip in self._trips.values():
            if trip.order.engineer_id != position.engineer_id:
                continue
            fix = (position.ts, position.lat, position.lon)
            if trip.last_ts is not None and position.ts <= trip.last_ts:
                continue  # an older fix says nothing about where the engineer is now
            trip.last_ts = position.ts
            if trip.start is None or trip.anchor is None:
                trip.start = trip.anchor = fix
                trip.history.append((*fix, trip.driven_m))
            else:
                step = haversine_m(trip.anchor[1], trip.anchor[2], fix[1], fix[2])
                if step > max(20.0, 2 * (position.accuracy_m or 0.0)):
                    trip.driven_m += step  # jitter while standing still is not driving
                    trip.anchor = fix
                    trip.history.append((*fix, trip.driven_m))
            en_route = trip.order.en_route_ms
            if en_route is not None and trip.based_on != en_route and position.ts >= en_route:
                self._start_at(trip, en_route)
            update = self.estimate(trip.order, position, trip)
            if self._worth_publishing(trip.last_pub, update):
                trip.last_pub = update
                out.append(update)
        return out

    def estimate(self, order: ActiveOrder, position: Position,
                 trip: _Trip | None = None) -> EtaUpdate:
        """The ETA of ``order`` from ``position`` now (published or not); with ``trip``,
        the fix is also kept as a sample to learn from when the trip ends."""
        cfg = self.config
        model = self.model
        straight = haversine_m(position.lat, position.lon, order.site_lat, order.site_lon)
        remaining = 0.0 if straight <= cfg.arrived_m else straight * model.detour(
            position.lat, position.lon)
        profile = max(MIN_SPEED_MPS, model.speed(position.ts))
        observed = self._fresh_speed(position)
        moving = position.speed_mps is None or position.speed_mps >= cfg.stop_speed_mps
        align = alignment_of(position.heading if moving else None, position.lat,
                             position.lon, order.site_lat, order.site_lon)
        if trip is not None:
            trip.samples.append(Sample(position.ts, straight, align, observed, profile))
        pace = self.calibration.pace(straight, align, observed, profile) if remaining else None
        weight = 0.0
        if pace is not None:
            seconds = straight * pace
            weight = self.calibration.weight(straight, align) or 0.0
            speed = remaining / seconds
        else:
            speed = profile
            if observed is not None:
                profile_s = remaining / profile
                motion = self._motion[position.engineer_id]
                # an hour no trip has taught the profile yet is the flat default: it says
                # nothing about the traffic ahead, so the observed speed is all there is
                learned_hour = model.speed(position.ts) != DEFAULT_SPEED_MPS
                weight = min(1.0, motion.samples / 5) * (
                    cfg.max_blend * math.exp(-profile_s / 3600) if learned_hour else 1.0)
                speed = weight * observed + (1 - weight) * profile
                weight = min(1.0, weight / cfg.max_blend)
            speed = max(MIN_SPEED_MPS, speed)
            seconds = remaining / speed
        eta_ts = position.ts + round(seconds * 1000)
        learned = pace is not None or region_of(position.lat, position.lon) in \
            model.detour_by_region
        confidence = (0.95 * math.exp(-seconds / 7200) * (0.7 + 0.3 * weight)
                      * (1.0 if learned else 0.85) * (1.0 if remaining else 1 / 0.95))
        late_by = None
        if order.sla_due_ms is not None:
            late_by = max(0.0, (eta_ts - order.sla_due_ms) / 1000)
        return EtaUpdate(
            work_order_id=order.work_order_id, engineer_id=position.engineer_id, ts=position.ts,
            eta_ts=eta_ts, remaining_m=round(remaining, 1), speed_mps=round(speed, 2),
            confidence=round(min(1.0, confidence), 3), late_by_s=late_by)

    def _fresh_speed(self, position: Position) -> float | None:
        """The engineer's smoothed moving speed, if recent enough to count."""
        motion = self._motion.get(position.engineer_id)
        if motion is None or motion.speed is None:
            return None
        if position.ts - motion.speed_ts > self.config.fresh_s * 1000:
            return None
        return motion.speed

    def on_arrival(self, work_order_id: str, ts: int,
                   en_route_ms: int | None = None) -> TravelModel | None:
        """The trip ended on site at ``ts`` (geofence check-in): learn from it, stop tracking.

        The trip runs from the engineer's position when the order went en route
        (``en_route_ms``, else the order's, else the first fix seen) to the site."""
        trip = self._trips.pop(work_order_id, None)
        if trip is None or trip.start is None or trip.anchor is None:
            return None
        o = trip.order
        en_route = en_route_ms if en_route_ms is not None else o.en_route_ms
        if en_route is not None and trip.based_on != en_route:
            self._start_at(trip, en_route)
        end = haversine_m(trip.anchor[1], trip.anchor[2], o.site_lat, o.site_lon)
        driven = trip.driven_m - trip.start_driven_m + end
        duration_s = (ts - trip.start[0]) / 1000
        if duration_s <= 0:
            return None
        self.calibration.observe([x for x in trip.samples if x.ts >= trip.start[0]], ts)
        start = (trip.start[1], trip.start[2])
        return self.learner.observe_trip(
            start, (o.site_lat, o.site_lon), driven, duration_s, trip.start[0])

    @staticmethod
    def _start_at(trip: _Trip, en_route_ms: int) -> None:
        """Place the trip's start at the en_route moment: the last anchor at or before it
        (the engineer was there, or within one anchor step), else the oldest one kept."""
        if not trip.history:
            return
        before = [a for a in trip.history if a[0] <= en_route_ms]
        ts, lat, lon, driven = before[-1] if before else trip.history[0]
        trip.start = (max(ts, en_route_ms), lat, lon)
        trip.start_driven_m = driven
        trip.based_on = en_route_ms

    def _observe_motion(self, p: Position) -> None:
        cfg = self.config
        m = self._motion.setdefault(p.engineer_id, _Motion())
        if m.last is not None and p.ts <= m.last[0]:
            return
        observed = p.speed_mps
        if observed is None and m.last is not None:
            dt = (p.ts - m.last[0]) / 1000
            dist = haversine_m(m.last[1], m.last[2], p.lat, p.lon)
            observed = dist / dt if dist > 2 * (p.accuracy_m or 10.0) else 0.0
        m.last = (p.ts, p.lat, p.lon)
        if observed is None or observed < cfg.stop_speed_mps or observed > cfg.max_speed_mps:
            return
        a = cfg.ewma_alpha
        m.speed = observed if m.speed is None else (1 - a) * m.speed + a * observed
        m.speed_ts = p.ts
        m.samples += 1

    def _worth_publishing(self, last: EtaUpdate | None, new: EtaUpdate) -> bool:
        cfg = self.config
        if last is None:
            return True
        if new.ts - last.ts >= cfg.republish_s * 1000:
            return True
        if bool(last.late_by_s) != bool(new.late_by_s):
            return True
        left_s = max(0.0, (last.eta_ts - last.ts) / 1000)
        moved_s = abs(new.eta_ts - last.eta_ts) / 1000
        return moved_s > max(cfg.min_change_s, cfg.min_change_frac * left_s)
