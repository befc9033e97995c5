"""An engineer's phone: GPS over MQTT, assignments from the inbox, the job via the API.

Lifecycle of one order, as a field engineer does it: accept on receipt (``accepted``),
``en_route`` when setting off, drive the street grid, park inside the site's fence and
wait until the platform checks the visit in from GPS (``on_site``; a manual check-in
with a reason only if it never comes), ``in_progress``, work for the model's service
time, answer the checklist, ``completed``; then the next order or home.
"""

from __future__ import annotations

import logging
import math
import random
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from models.timeutil import to_datetime
from simulators.api import Api, ApiError
from simulators.etaeval import TripTruth
from simulators.mqttio import MqttPool
from simulators.noise import GpsNoise
from simulators.roads import Point, Route, speed_at
from simulators.scenario import Engineer, Scenario, Site
from simulators.truth import Arrival, Truth

log = logging.getLogger("fieldflow.simulators.phone")
PRIORITY_RANK = {"P1": 0, "P2": 1, "P3": 2, "P4": 3}
POLL_WALL_S = 0.3
CHECKIN_TIMEOUT_S = 1200.0  # simulated; then a manual check-in with a reason
ALREADY_INSIDE_WAIT_S = 120.0


def position_message(engineer_id: str, ts: int, *, owntracks: bool, lat: float, lon: float,
                     acc: float, speed: float, heading: float, battery: float
                     ) -> tuple[str, dict[str, Any]]:
    """(topic, payload) of one fix: native JSON, or OwnTracks ``_type: location`` on
    ``owntracks/{engineer}/phone`` (the bridge maps ``engineer/phone`` to the engineer)."""
    if owntracks:
        return f"owntracks/{engineer_id}/phone", {
            "_type": "location", "tst": ts // 1000, "lat": round(lat, 7), "lon": round(lon, 7),
            "acc": round(acc), "vel": round(speed * 3.6), "cog": round(heading) % 360,
            "batt": round(battery), "tid": engineer_id[-2:]}
    return f"fieldflow/engineers/{engineer_id}/location", {
        "ts": ts, "lat": round(lat, 7), "lon": round(lon, 7), "acc": acc,
        "spd": round(speed, 2), "hdg": round(heading, 1) % 360, "batt": round(battery, 1)}


FILE_KINDS = ("photo", "signature")


def picture(order_id: str, item_id: str) -> bytes:
    """A small PNG, different per order and item (what the phone's camera would give)."""
    seed = zlib.crc32(f"{order_id}/{item_id}".encode())
    pixels = bytes((seed >> shift) & 0xFF for shift in (0, 8, 16)) * (16 * 16)
    raw = b"".join(b"\x00" + pixels[row * 48:(row + 1) * 48] for row in range(16))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def checklist_answers(items: list[dict[str, Any]], files: dict[str, str]) -> dict[str, Any]:
    """An answer for every item of the template, of the kind the item asks for; photo and
    signature items take the attachment ids in ``files`` (item id -> attachment id)."""
    out: dict[str, Any] = {}
    for item in items:
        kind, item_id = item.get("kind"), str(item.get("id"))
        if kind == "number":
            low, high = item.get("min"), item.get("max")
            out[item_id] = (low + high) / 2 if low is not None and high is not None else (
                low if low is not None else high if high is not None else 1)
        elif kind in FILE_KINDS:
            out[item_id] = files[item_id]
        else:
            out[item_id] = True
    return out


@dataclass
class Trip:
    route: Route
    depart_ms: int
    speed_mps: float
    order_id: str | None
    site: Site | None
    enter_ms: int | None  # true fence entry (None: started inside)

    @property
    def end_ms(self) -> int:
        return self.depart_ms + int(self.route.length / self.speed_mps * 1000)

    def at(self, ts_ms: int) -> tuple[Point, float, float]:
        """(position, heading, speed) at an event time."""
        d = (ts_ms - self.depart_ms) / 1000 * self.speed_mps
        point, heading = self.route.at(d)
        moving = 0.0 <= d < self.route.length
        return point, heading, self.speed_mps if moving else 0.0


def fence_entry_m(route: Route, centre: Point, radius: float, step: float = 2.0) -> float | None:
    """Distance along the route where it first enters the circle; None if it starts inside."""
    if math.dist(route.points[0], centre) <= radius:
        return None
    d = 0.0
    while d <= route.length:
        if math.dist(route.at(d)[0], centre) <= radius:
            return d
        d += step
    return route.length


class Phone:
    """One engineer and their phone. ``tick(now_ms)`` advances both."""

    def __init__(self, eng: Engineer, sc: Scenario, api: Api, mqtt: MqttPool, truth: Truth,
                 *, on_completed: Callable[[dict[str, Any], int], None]) -> None:
        self.eng, self.sc, self.api, self.mqtt, self.truth = eng, sc, api, mqtt, truth
        self.on_completed = on_completed
        self.rng = random.Random(f"{sc.options.seed}:{eng.id}")
        self.noise = GpsNoise(random.Random(f"{sc.options.seed}:{eng.id}:gps"))
        self.trip: Trip | None = None
        self.queue: list[dict[str, Any]] = []
        self.current: dict[str, Any] | None = None
        self.state = "idle"
        self.known: set[str] = set()
        self.next_fix_ms = sc.start_ms + int(self.rng.uniform(0, 10_000))
        self.wait_since_ms = 0
        self.work_until_ms = 0
        self._next_poll = 0.0
        self._inside_at_start = False
        self.battery = self.rng.uniform(60, 100)

    # -- where ---------------------------------------------------------------
    def true_at(self, ts_ms: int) -> tuple[Point, float, float]:
        if self.trip is None:
            return self.eng.home_xy, 0.0, 0.0
        return self.trip.at(ts_ms)

    def _publish_fixes(self, now_ms: int) -> None:
        while self.next_fix_ms <= now_ms:
            ts = self.next_fix_ms
            xy, heading, speed = self.true_at(ts)
            lat, lon = self.sc.grid.to_latlon(xy)
            self.truth.track.append((self.eng.id, ts, lat, lon))
            fix = self.noise.fix(xy, ts, allow_gap=speed > 0)
            moving = speed > 0 or self.state in ("driving", "wait_checkin")
            self.next_fix_ms = ts + int(self.sc.options.position_interval_s
                                        * (1 if moving else 3) * 1000)
            if fix is None:
                continue
            self.battery = max(5.0, self.battery - 0.01)
            flat, flon = self.sc.grid.to_latlon(fix.xy)
            self.truth.fixes.setdefault(self.eng.id, []).append((ts, flat, flon))
            self.mqtt.publish(*position_message(
                self.eng.id, ts, owntracks=self.eng.owntracks, lat=flat, lon=flon,
                acc=fix.accuracy_m, speed=speed, heading=heading, battery=self.battery))

    # -- what ------------------------------------------------------------------
    def on_assignment(self, msg: dict[str, Any], now_ms: int) -> None:
        order_id = str(msg.get("work_order_id") or "")
        if not order_id or order_id in self.known:
            return
        try:
            order = self.api.order(order_id)
            if order.get("engineer_id") not in (None, self.eng.id):
                return  # re-dispatched to someone else meanwhile
            if self.sc.find_site(str(order.get("site_id"))) is None:
                # Another tenant's order on a shared stack: this phone cannot drive there.
                self.api.transition(order_id, "rejected", "site outside the simulated city",
                                    ts_ms=now_ms)
                self.known.add(order_id)
                return
            self.api.transition(order_id, "accepted", "on my way soon", ts_ms=now_ms)
        except ApiError as exc:
            log.warning("%s: cannot accept %s: %s", self.eng.id, order_id, exc)
            return
        self.known.add(order_id)
        self.queue.append(order)
        self.queue.sort(key=lambda o: PRIORITY_RANK.get(str(o.get("priority")), 9))

    def on_withdrawn(self, msg: dict[str, Any]) -> None:
        """The dispatcher took a not-yet-started order off this route (pre-emption): drop it
        from the queue and forget it, so it can be offered again later."""
        order_id = str(msg.get("work_order_id") or "")
        self.queue = [o for o in self.queue if str(o.get("id")) != order_id]
        self.known.discard(order_id)

    def _start_next(self, now_ms: int) -> None:
        order = self.queue.pop(0)
        site = self.sc.site(str(order["site_id"]))
        here, _, _ = self.true_at(now_ms)
        park = (site.xy[0] + self.rng.uniform(-15, 15), site.xy[1] + self.rng.uniform(-15, 15))
        route = self.sc.grid.route(here, park)
        speed = speed_at(now_ms) * self.eng.speed_factor
        entry = fence_entry_m(route, site.xy, site.fence_radius_m)
        enter_ms = None if entry is None else now_ms + int(entry / speed * 1000)
        try:
            self.api.transition(order["id"], "en_route", f"driving {route.length:.0f} m",
                                ts_ms=now_ms)
        except ApiError as exc:
            log.warning("%s: en_route %s refused: %s", self.eng.id, order["id"], exc)
            if exc.status not in (403, 404, 409):  # not a final answer: try again later
                self.queue.insert(0, order)
            return
        self.trip = Trip(route, now_ms, speed, order["id"], site, enter_ms)
        self.current, self.state = order, "driving"

    def _go_home(self, now_ms: int) -> None:
        here, _, _ = self.true_at(now_ms)
        route = self.sc.grid.route(here, self.eng.home_xy)
        self.trip = Trip(route, now_ms, speed_at(now_ms) * self.eng.speed_factor, None, None,
                         None)
        self.state = "driving"

    def _poll_due(self) -> bool:
        if time.monotonic() < self._next_poll:
            return False
        self._next_poll = time.monotonic() + POLL_WALL_S
        return True

    def tick(self, now_ms: int) -> None:
        self._publish_fixes(now_ms)
        if self.state == "idle" and self.queue:
            self._start_next(now_ms)
        elif self.state == "driving":
            self._drive(now_ms)
        elif self.state == "wait_checkin":
            self._wait_checkin(now_ms)
        elif self.state == "working" and now_ms >= self.work_until_ms:
            self._complete(now_ms)

    def _drive(self, now_ms: int) -> None:
        trip = self.trip
        assert trip is not None
        if trip.order_id is None:
            if self.queue:
                self._start_next(now_ms)
            elif now_ms >= trip.end_ms:
                self.state = "idle"
            return
        if now_ms < trip.end_ms:
            return
        assert trip.site is not None
        self._inside_at_start = trip.enter_ms is None
        if trip.enter_ms is not None:
            self.truth.arrivals.append(
                Arrival(self.eng.id, trip.site.id, trip.order_id, trip.enter_ms))
            self.truth.trips.append(TripTruth(self.eng.id, trip.order_id, trip.depart_ms,
                                              trip.enter_ms, trip.site.lat, trip.site.lon))
        self.state, self.wait_since_ms = "wait_checkin", now_ms

    def _wait_checkin(self, now_ms: int) -> None:
        assert self.current is not None
        if not self._poll_due():
            return
        order_id = self.current["id"]
        status = self.api.order(order_id).get("status")
        if status in ("cancelled", "closed", "new", "assigned"):
            log.info("%s: order %s is %s; dropping it", self.eng.id, order_id, status)
            self.current, self.state = None, "idle"
            return
        if status != "on_site":
            waited = (now_ms - self.wait_since_ms) / 1000
            limit = ALREADY_INSIDE_WAIT_S if self._inside_at_start else CHECKIN_TIMEOUT_S
            if waited < limit:
                return
            why = ("already on site from the previous job" if self._inside_at_start
                   else f"no automatic check-in after {waited:.0f}s on site")
            self.api.transition(order_id, "on_site", f"manual check-in: {why}", ts_ms=now_ms)
            self.truth.manual_checkins.append(order_id)
            self.truth.manual_checkin_ms[order_id] = now_ms
        self.api.transition(order_id, "in_progress", "starting work", ts_ms=now_ms)
        asset = self.sc.asset(str(self.current.get("asset_id")))
        base = self.sc.model(asset.model_id).service_minutes if asset else 45
        minutes = base * self.sc.options.service_scale * self.rng.uniform(0.8, 1.2)
        self.work_until_ms = now_ms + int(minutes * 60_000)
        self.state = "working"

    def _complete(self, now_ms: int) -> None:
        assert self.current is not None
        order_id = self.current["id"]
        lat, lon = self.sc.grid.to_latlon(self.true_at(now_ms)[0])
        try:
            items = self.api.checklist(order_id)
            taken = to_datetime(now_ms).isoformat()
            files = {str(i["id"]): self.api.upload(
                order_id, str(i["kind"]), picture(order_id, str(i["id"])), captured_at=taken,
                lat=round(lat, 6), lon=round(lon, 6))
                for i in items if i.get("kind") in FILE_KINDS}
            answers = checklist_answers(items, files)
            if answers:
                self.api.answer_checklist(order_id, answers)
            self.api.transition(order_id, "completed", "repaired and tested", ts_ms=now_ms)
        except ApiError as exc:
            log.warning("%s: cannot complete %s: %s", self.eng.id, order_id, exc)
            self.work_until_ms = now_ms + 60_000  # try again in a simulated minute
            return
        self.on_completed(self.current, now_ms)
        self.current = None
        if self.queue:
            self._start_next(now_ms)
        else:
            self._go_home(now_ms)
