"""Runs a scenario against a live platform: seeding, phones, devices, faults, sign-off.

One loop on the simulated clock: each step delivers inbox messages to phones, lets every
phone and device publish what is due (event times exact, even if a step runs late),
starts due faults and lets the dispatcher sign off and close completed orders. After the
scenario's duration a drain phase (no new faults) runs until every fault is healed and
every order created in the run is closed or cancelled, or a limit (``sim_drain_max_s``);
then the platform's figures are fetched for the report.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from simulators.api import Api, ApiError
from simulators.clock import SimClock
from simulators.devices import DeviceSim
from simulators.etaeval import BASELINE_SPEED_MPS
from simulators.etafeed import EtaFeed
from simulators.mqttio import InboxListener, MqttPool
from simulators.phone import Phone
from simulators.report import compute_report, still_open, ts_of
from simulators.scenario import FaultPlan, Scenario, plan_faults
from simulators.seed import SeedResult, seed
from simulators.truth import Truth
from simulators.turbofans import TURBOFAN, TurbofanDevice, turbofans
from stack.settings import get_settings

log = logging.getLogger("fieldflow.simulators.runner")
SIGNOFF_DELAY_S = 120.0
RESCAN_WALL_S = 5.0
MAX_TRACK = 200_000


@dataclass(frozen=True)
class Endpoints:
    api_url: str
    mqtt_url: str
    admin_token: str


class Runner:
    def __init__(self, sc: Scenario, ep: Endpoints, *, clock: SimClock | None = None,
                 mqtt_connections: int = 2,
                 baseline_speed_mps: float = BASELINE_SPEED_MPS) -> None:
        self.sc, self.ep = sc, ep
        self.baseline_speed_mps = baseline_speed_mps
        self.eta_feed = EtaFeed(ep.api_url, ep.admin_token)
        self.clock = clock or SimClock(sc.options.speed, start_ms=sc.start_ms,
                                       max_lead_s=sc.options.max_lead_s)
        self.truth = Truth(started_ms=sc.start_ms)
        self.api = Api(ep.api_url, ep.admin_token)
        self.inbox = InboxListener(ep.mqtt_url)
        self.mqtt = MqttPool(ep.mqtt_url, mqtt_connections)
        self.devices = {
            a.device_id: DeviceSim(a, sc.model(a.model_id), random.Random(f"{sc.options.seed}:"
                                                                          f"{a.device_id}"))
            for a in sc.assets}
        rng = random.Random(sc.options.seed)
        interval_ms = int(sc.options.reading_interval_s * 1000)
        self.turbofans: dict[str, TurbofanDevice] = {
            t.device_id: t for t in turbofans(sc.options.prefix, sc.options.cmapss_devices)}
        self.next_reading = {d: sc.start_ms + rng.randrange(interval_ms)
                             for d in [*self.devices, *self.turbofans]}
        self.pending_faults: list[FaultPlan] = plan_faults(sc)
        self.phones: dict[str, Phone] = {}
        self.signoffs: list[tuple[int, str]] = []
        self.closed: set[str] = set()
        self.phase = "run"
        self._rescan_at = 0.0
        self._rate_mark = (time.monotonic(), 0)
        self._open_checked = 0.0
        self.msgs_per_s = 0.0
        self.seeded: SeedResult | None = None

    # -- setup -------------------------------------------------------------------
    def setup(self) -> SeedResult:
        self.seeded = seed(self.api, self.sc)
        self.eta_feed.start()  # every ETA the platform publishes from now on
        if self.turbofans:
            m = TURBOFAN
            self.api.ensure("asset-models", {
                "id": m.id, "name": m.name, "required_skills": list(m.required_skills),
                "rules": [], "reading_timeout_s": m.reading_timeout_s,
                "service_minutes": m.service_minutes})
            for i, device_id in enumerate(self.turbofans):
                site = self.sc.sites[i % len(self.sc.sites)]
                self.api.ensure("assets", {"id": device_id.replace("turbofan", "engine"),
                                           "site_id": site.id, "model_id": m.id,
                                           "serial": device_id, "device_id": device_id})
        for e in self.sc.engineers:
            token = self.seeded.engineer_tokens.get(e.id)
            api = self.api.with_token(token) if token else self.api
            self.phones[e.id] = Phone(e, self.sc, api, self.mqtt, self.truth,
                                    on_completed=self._completed)
        return self.seeded

    # -- the loop ------------------------------------------------------------------
    def _completed(self, order: dict[str, Any], now_ms: int) -> None:
        for dev in self.devices.values():
            if dev.asset.id == order.get("asset_id") and dev.fault is not None:
                fault = dev.heal(now_ms)
                if fault is not None:
                    fault.work_order_id = str(order["id"])
        self.signoffs.append((now_ms + int(SIGNOFF_DELAY_S * 1000), str(order["id"])))

    def _deliver(self, now_ms: int) -> None:
        for engineer_id, msg in self.inbox.drain():
            phone = self.phones.get(engineer_id)
            if phone is None:
                continue
            kind = msg.get("type", "assignment")
            if kind == "assignment":
                phone.on_assignment(msg, now_ms)
            elif kind == "withdrawn":
                phone.on_withdrawn(msg)
        if time.monotonic() >= self._rescan_at:  # assignments the inbox may have missed
            self._rescan_at = time.monotonic() + RESCAN_WALL_S
            for o in self._orders(status="assigned"):
                phone = self.phones.get(str(o.get("engineer_id")))
                if o.get("status") == "assigned" and phone and o["id"] not in phone.known:
                    phone.on_assignment({"work_order_id": o["id"]}, now_ms)

    def _orders(self, **params: Any) -> list[dict[str, Any]]:
        try:
            return self.api.orders(**params)
        except ApiError as exc:
            log.warning("cannot list work orders: %s", exc)
            return []

    def _faults(self, now_ms: int) -> None:
        keep = []
        last_onset_ms = self.sc.start_ms + int(self.sc.options.duration_s * 0.9 * 1000)
        for plan in self.pending_faults:
            due = self.sc.start_ms + int(plan.at_s * 1000)
            dev = self.devices[plan.device_id]
            if due > now_ms:
                keep.append(plan)
            elif self.phase == "run" and dev.can_fail(now_ms):
                self.truth.faults.append(dev.start_fault(plan.rule_index, plan.kind, now_ms))
                log.info("fault %s on %s (%s)", self.truth.faults[-1].fault_type,
                         plan.device_id, plan.kind)
            elif self.phase == "run" and now_ms < last_onset_ms:
                keep.append(plan)  # the device is still under repair: try again later
        self.pending_faults = keep

    def _readings(self, now_ms: int) -> None:
        interval = int(self.sc.options.reading_interval_s * 1000)
        for device_id, first in self.next_reading.items():
            dev: DeviceSim | TurbofanDevice = (self.devices.get(device_id)
                                               or self.turbofans[device_id])
            ts = first
            while ts <= now_ms:
                self.mqtt.publish(f"fieldflow/devices/{device_id}/telemetry",
                                  {"ts": ts, "metrics": dev.reading(ts)})
                ts += interval
            self.next_reading[device_id] = ts

    def _sign_off(self, now_ms: int) -> None:
        due = [s for s in self.signoffs if s[0] <= now_ms]
        self.signoffs = [s for s in self.signoffs if s[0] > now_ms]
        for _, order_id in due:
            try:
                self.api.transition(order_id, "signed_off", "customer signed", ts_ms=now_ms)
                self.api.transition(order_id, "closed", "reviewed by dispatch", ts_ms=now_ms)
                self.closed.add(order_id)
            except ApiError as exc:
                log.warning("dispatcher could not close %s: %s", order_id, exc)

    def step(self) -> int:
        now = self.clock.now_ms()
        self._guard(self._deliver, now)
        for phone in self.phones.values():
            self._guard(phone.tick, now)
        self._faults(now)
        self._readings(now)
        self._guard(self._sign_off, now)
        if len(self.truth.track) > MAX_TRACK:  # a long live run keeps the recent tracks
            del self.truth.track[: MAX_TRACK // 2]
        return now

    def _guard(self, step: Callable[[int], None], now_ms: int) -> None:
        """An API hiccup costs one step of one actor (retried next step), not the run."""
        try:
            step(now_ms)
        except (ApiError, httpx.HTTPError) as exc:
            log.warning("%s: %s (will retry)", getattr(step, "__qualname__", step), exc)

    def settled(self) -> bool:
        """Drain is over: every fault healed, every order the phones took is closed, and
        the platform holds no order of this run that is not closed or cancelled."""
        known = {o for p in self.phones.values() for o in p.known}
        busy = any(p.current or p.queue for p in self.phones.values())
        if not (all(f.healed_ms is not None for f in self.truth.faults) and not self.signoffs
                and known <= self.closed and not busy):
            return False
        now = time.monotonic()
        if now - self._open_checked < 1.0:  # ask the API at most once a second
            return False
        self._open_checked = now
        return not still_open(self._run_orders())

    def _run_orders(self) -> list[dict[str, Any]]:
        """The platform's orders for this run's assets, created since it started."""
        assets = {a.id for a in self.sc.assets}
        since = self.truth.started_ms - 1000
        return [o for o in self._orders()
                if o.get("asset_id") in assets and (ts_of(o.get("created_at")) or 0) >= since]

    def open_orders(self) -> int:
        return len({o for p in self.phones.values() for o in p.known} - self.closed)

    def run(self, *, stop: threading.Event | None = None,
            progress: Callable[[Runner], None] | None = None,
            drain_max_s: float | None = None, tick_wall_s: float = 0.02) -> None:
        """Run the scenario, then drain: until :meth:`settled`, at most ``drain_max_s``
        simulated seconds (default the ``sim_drain_max_s`` setting)."""
        opts = self.sc.options
        end_ms = self.sc.start_ms + int(opts.duration_s * 1000)
        if drain_max_s is None:
            drain_max_s = get_settings().sim_drain_max_s
        drain_end = end_ms + int(drain_max_s * 1000)
        while not (stop and stop.is_set()):
            now = self.step()
            if self.phase == "run" and now >= end_ms:
                self.phase = "drain"
            if self.phase == "drain" and (self.settled() or now >= drain_end):
                break
            if progress:
                progress(self)
            self._measure_rate()
            time.sleep(tick_wall_s)
        self.truth.ended_ms = self.clock.now_ms()
        self.truth.eta_samples = self.eta_feed.snapshot()
        self.truth.messages = {"published": self.mqtt.sent, "turbofan_failures": sum(
            t.failures for t in self.turbofans.values())}
        self.mqtt.flush()

    def _measure_rate(self) -> None:
        t0, n0 = self._rate_mark
        t = time.monotonic()
        if t - t0 >= 2.0:
            self.msgs_per_s = (self.mqtt.sent - n0) / (t - t0)
            self._rate_mark = (t, self.mqtt.sent)

    # -- the report ------------------------------------------------------------------
    def collect(self) -> dict[str, Any]:
        engineers = {e.id for e in self.sc.engineers}
        since = self.truth.started_ms - 1000
        orders = self._run_orders()
        geofence = [g for g in self.api.geofence_events()
                    if g.get("engineer_id") in engineers and (ts_of(g.get("ts")) or 0) >= since]
        self.truth.eta_samples = self.eta_feed.snapshot()  # with the last ones to land
        report = compute_report(self.truth, orders, geofence,
                                baseline_speed_mps=self.baseline_speed_mps)
        report["run"] = {
            "seed": self.sc.options.seed, "speed": self.sc.options.speed,
            "duration_s": self.sc.options.duration_s,
            "simulated_s": round((self.truth.ended_ms - self.truth.started_ms) / 1000, 1),
            "engineers": len(self.sc.engineers), "sites": len(self.sc.sites),
            "devices": len(self.sc.assets), "messages": self.mqtt.sent,
            "missing_endpoints": sorted(self.api.missing),
            "eta_feed_reconnects": self.eta_feed.reconnects,
            "seed_notes": self.seeded.notes if self.seeded else [],
        }
        report["truth"] = self.truth.to_json()
        # the ETA evaluation's inputs, so its table can be recomputed (etaeval.evaluate)
        report["eta_inputs"] = {
            "published": [[p.work_order_id, p.at_ms, p.eta_ms] for p in self.truth.eta_samples],
            "fixes": self.truth.fixes}
        return report

    def log_off(self) -> None:
        """End of the simulated shift: phones go quiet and engineers log off, so the
        platform does not dispatch later orders to engineers nobody simulates."""
        for engineer_id in self.phones:
            try:
                self.api.set_engineer_status(engineer_id, "offline")
            except httpx.HTTPError as exc:
                log.warning("could not log %s off: %s", engineer_id, exc)

    def close(self) -> None:
        self.eta_feed.stop()
        self.log_off()
        self.mqtt.close()
        self.inbox.close()
        self.api.close()
