"""Inputs and outputs of dispatch: frozen dataclasses, no I/O.

Time convention: every ``*_s`` field is **whole seconds since midnight (UTC) of the
planning day** (``0..86_400``, or beyond for a shift that crosses midnight). Seconds
of one day keep OR-Tools' integer cumuls small and the numbers readable; callers
convert from epoch milliseconds with :func:`day_seconds` and back with ``day_start_ms``.
Positions are ``(lat, lon)`` in degrees.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from models.workorder import Priority, Status

DAY_S = 86_400

# Orders the engineer is already travelling to or working on: never moved by a plan.
FROZEN_STATUSES: frozenset[Status] = frozenset(
    {Status.EN_ROUTE, Status.ON_SITE, Status.IN_PROGRESS, Status.WAITING_PARTS}
)

LatLon = tuple[float, float]


def day_seconds(epoch_ms: int, day_start_ms: int) -> int:
    """Seconds since ``day_start_ms`` (the planning day's midnight) for ``epoch_ms``."""
    return (epoch_ms - day_start_ms) // 1000


@dataclass(frozen=True)
class LunchBreak:
    """A break of ``duration_s`` starting anywhere in ``[earliest_s, latest_s]``."""

    earliest_s: int
    latest_s: int
    duration_s: int


@dataclass(frozen=True)
class Engineer:
    """An engineer (a vehicle). ``route`` lists the order ids they currently hold, in
    sequence; ``position``/``available_s`` is where and when they are free next (the
    live GPS fix, or the end of the current job), ``None`` meaning the home base at
    shift start."""

    id: str
    skills: frozenset[str]
    shift_start_s: int
    shift_end_s: int
    home: LatLon
    position: LatLon | None = None
    available_s: int | None = None
    van_stock: Mapping[str, int] = field(default_factory=dict)
    lunch: LunchBreak | None = None
    route: tuple[str, ...] = ()
    online: bool = True


@dataclass(frozen=True)
class Visit:
    """A work order to be visited. ``window_*`` bound the *start* of service;
    ``engineer_id`` pins it to one engineer; a frozen visit (``frozen`` or an
    en_route/on_site status) keeps its engineer and its place at the head of the route."""

    id: str
    lat: float
    lon: float
    skills: frozenset[str] = frozenset()
    parts: Mapping[str, int] = field(default_factory=dict)
    window_start_s: int = 0
    window_end_s: int = DAY_S
    service_s: int = 1800
    priority: Priority = Priority.P3
    sla_due_s: int | None = None
    status: Status = Status.NEW
    engineer_id: str | None = None
    frozen: bool = False

    @property
    def point(self) -> LatLon:
        return (self.lat, self.lon)

    @property
    def is_frozen(self) -> bool:
        return self.frozen or self.status in FROZEN_STATUSES


PICKUP = "pickup:"  # id prefix of a booked depot pickup on a route: "pickup:<order id>"
PICKUP_S = 600  # time to collect parts at a depot


def pickup_for(visit_id: str) -> str | None:
    """The order a booked pickup stop serves (None for any other stop)."""
    return visit_id.removeprefix(PICKUP) if visit_id.startswith(PICKUP) else None


def is_order(visit_id: str) -> bool:
    """False for the depot stops dispatch adds to a route (a booked pickup, a detour)."""
    return not visit_id.startswith((PICKUP, "depot:"))


@dataclass(frozen=True)
class Depot:
    """A parts store an engineer can detour through to collect missing parts."""

    id: str
    lat: float
    lon: float
    stock: Mapping[str, int] = field(default_factory=dict)

    @property
    def point(self) -> LatLon:
        return (self.lat, self.lon)


@dataclass(frozen=True)
class Candidate:
    """One engineer who can take a new order, with the score's ingredients.

    Lower ``score`` is better (seconds-equivalent). ``route`` is the engineer's
    proposed new sequence; ``preempts`` names a P4 order bumped to make room;
    ``depot_id`` names the depot visited first for missing parts."""

    engineer_id: str
    score: float
    travel_s: int
    insertion_cost_s: int
    eta_s: int
    reasons: tuple[str, ...]
    route: tuple[str, ...] = ()
    preempts: str | None = None
    depot_id: str | None = None


@dataclass(frozen=True)
class Stop:
    """A planned visit: arrival, service start (after any wait) and departure."""

    visit_id: str
    arrival_s: int
    start_s: int
    departure_s: int


@dataclass(frozen=True)
class Route:
    engineer_id: str
    stops: tuple[Stop, ...]
    start_s: int
    end_s: int
    travel_s: int
    lunch_start_s: int | None = None
    lunch_duration_s: int = 0

    @property
    def visit_ids(self) -> tuple[str, ...]:
        return tuple(s.visit_id for s in self.stops)


@dataclass(frozen=True)
class Plan:
    """Routes per engineer id and the unassigned orders with the reason for each; the
    depot each visit's parts are collected at, for visits with a pickup stop
    (``pickup:<visit id>``, on the same route before the visit)."""

    routes: Mapping[str, Route]
    unassigned: Mapping[str, str]
    pickups: Mapping[str, str] = field(default_factory=dict)

    def engineer_of(self, visit_id: str) -> str | None:
        for eid, route in self.routes.items():
            if visit_id in route.visit_ids:
                return eid
        return None


@dataclass(frozen=True)
class PlanDiff:
    """What a re-plan changed: ``reassigned`` maps visit -> (old, new engineer);
    ``moved`` are visits kept by their engineer but re-sequenced or re-timed."""

    reassigned: Mapping[str, tuple[str, str]]
    moved: tuple[str, ...]
    newly_assigned: Mapping[str, str]
    newly_unassigned: Mapping[str, str]

    @property
    def changed(self) -> bool:
        return bool(self.reassigned or self.moved or self.newly_assigned
                    or self.newly_unassigned)
