"""N stream workers over the real stack: state moves with its partitions, time is a
watermark per partition that one bad clock cannot drag (issue #15).

A stack of this module's own: short dwell, lateness and offline timeouts so the claims
show within a couple of minutes, and no other test's event times in its partitions.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from models.geo import offset_m
from streams.state import partition_of
from tests.e2e.conftest import REPO, Stack, run_stack, wait_until
from tests.e2e.seed import query, seed_engineer, seed_site, uid

pytestmark = pytest.mark.e2e
PARTITIONS = 8
OFFLINE_AFTER_S = 30


@pytest.fixture(scope="module")
def scale_stack() -> Iterator[Stack]:
    yield from run_stack(
        FIELDFLOW_PARTITIONS=str(PARTITIONS),
        FIELDFLOW_GEOFENCE_DWELL_S="20",
        FIELDFLOW_GEOFENCE_LATENESS_S="10",
        FIELDFLOW_ENGINEER_OFFLINE_AFTER_S=str(OFFLINE_AFTER_S),
    )


def _workers(stack: Stack) -> dict[str, dict[str, Any]]:
    st = json.loads(stack.cli("status", "--json").stdout)
    return {w["name"]: w for w in st["workers"]}


def _positions_of(stack: Stack, name: str) -> list[int]:
    w = _workers(stack).get(name)
    return list(w["partitions"]["telemetry.positions"]) if w else []


def _start_worker(stack: Stack, name: str) -> subprocess.Popen[bytes]:
    env = {**stack.env, "FIELDFLOW_WORKER_NAME": name,
           "FIELDFLOW_DATABASE_URL": stack.database_url,
           "FIELDFLOW_KAFKA_BOOTSTRAP": stack.kafka}
    log = (stack.home / "logs" / f"{name}.log").open("ab")
    return subprocess.Popen([sys.executable, "-m", "streams.worker"], env=env, cwd=REPO,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


class Phones(threading.Thread):
    """Phones reporting every ``every_s`` (event time = wall time) where ``place`` puts them;
    meanwhile the engineers' presence is watched: any ``offline`` is remembered."""

    def __init__(self, stack: Stack, engineers: list[str], every_s: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.stack, self.engineers, self.every_s = stack, engineers, every_s
        self.place: dict[str, tuple[float, float]] = {}
        self.offline_seen: set[str] = set()
        self.stop = threading.Event()
        self.rng = random.Random(15)

    def run(self) -> None:
        client = self.stack.mqtt_client()
        try:
            next_round = time.monotonic()
            while not self.stop.is_set():
                ts = int(time.time() * 1000)
                for eng in self.engineers:
                    lat, lon = self.place[eng]
                    la, lo = offset_m(lat, lon, self.rng.gauss(0, 5), self.rng.gauss(0, 5))
                    client.publish(f"fieldflow/engineers/{eng}/location",
                                   json.dumps({"ts": ts, "lat": la, "lon": lo, "acc": 10}), qos=1)
                next_round += self.every_s
                while time.monotonic() < next_round and not self.stop.is_set():
                    rows = query(self.stack.database_url, "SELECT id FROM engineers"
                                 " WHERE id = ANY(%s) AND status <> 'online'", (self.engineers,))
                    self.offline_seen.update(r[0] for r in rows)
                    time.sleep(1.0)
        finally:
            client.loop_stop()
            client.disconnect()


def _geofence(stack: Stack, engineers: list[str], kind: str) -> dict[str, int]:
    rows = query(stack.database_url, "SELECT engineer_id, count(*) FROM geofence_events"
                 " WHERE engineer_id = ANY(%s) AND kind = %s GROUP BY engineer_id",
                 (engineers, kind))
    return {r[0]: int(r[1]) for r in rows}


def test_twenty_phones_stay_online_and_check_in_and_out_once_through_two_rebalances(
        scale_stack: Stack) -> None:
    stack = scale_stack
    base_lat, base_lon = 48.85, 2.35
    sites, engineers = [], []
    for i in range(20):
        lat, lon = offset_m(base_lat, base_lon, (i // 5) * 3000.0, (i % 5) * 3000.0)
        sites.append((seed_site(stack.database_url, lat=lat, lon=lon, radius_m=100), lat, lon))
        engineers.append(seed_engineer(stack.database_url, lat=lat, lon=lon))
    time.sleep(6)  # the workers reload sites every 5 s
    phones = Phones(stack, engineers)
    for eng, (_site, lat, lon) in zip(engineers, sites, strict=True):
        phones.place[eng] = (lat, lon)  # parked at its own site
    phones.start()
    second = None
    try:
        # A second worker joins: the group moves half the partitions to it, state and all.
        second = _start_worker(stack, "worker-extra")
        moved = wait_until(lambda: _positions_of(stack, "worker-extra"), timeout_s=90)
        on_second = [e for e in engineers if partition_of(e, PARTITIONS) in moved]
        assert on_second, f"no phone in the moved partitions {moved}"
        time.sleep(25)
        # ... and is killed: its partitions come back to worker-1 from their snapshots.
        os.killpg(second.pid, signal.SIGKILL)
        second.wait(10)
        wait_until(lambda: len(_positions_of(stack, "worker-1")) == PARTITIONS, timeout_s=90)
        wait_until(lambda: len(_geofence(stack, engineers, "enter")) == len(engineers),
                   timeout_s=90)
        time.sleep(10)
        for eng, (_site, lat, lon) in zip(engineers, sites, strict=True):
            phones.place[eng] = offset_m(lat, lon, 1000.0, 0.0)  # gone, 1 km north
        wait_until(lambda: len(_geofence(stack, engineers, "exit")) == len(engineers),
                   timeout_s=150)
        time.sleep(5)  # a duplicate would come within a batch or two
    finally:
        phones.stop.set()
        phones.join(20)
        if second is not None and second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
    enters, exits = _geofence(stack, engineers, "enter"), _geofence(stack, engineers, "exit")
    assert enters == dict.fromkeys(engineers, 1)
    assert exits == dict.fromkeys(engineers, 1)
    assert phones.offline_seen == set(), f"marked offline while reporting: {phones.offline_seen}"


def _ids_in(partition: int, prefix: str, n: int) -> list[str]:
    out: list[str] = []
    while len(out) < n:
        candidate = uid(prefix)
        if partition_of(candidate, PARTITIONS) == partition:
            out.append(candidate)
    return out


def test_clocks_a_day_ahead_are_flagged_and_move_no_one_elses_time(scale_stack: Stack) -> None:
    stack = scale_stack
    lat, lon = 52.52, 13.40
    # The bad phone and device share their partitions with good ones (so a dragged
    # watermark would show on them), and there are good ones in other partitions too.
    bad_eng = seed_engineer(stack.database_url, lat=lat, lon=lon)
    part = partition_of(bad_eng, PARTITIONS)
    good_engs = [seed_engineer(stack.database_url, lat=lat, lon=lon) for _ in range(4)]
    for eid in _ids_in(part, "eng", 2):
        query(stack.database_url, "INSERT INTO engineers (id, name, skills, shift_start,"
              " shift_end, home_lat, home_lon, status) VALUES (%s, 'E', '{hvac}', '00:00',"
              " '23:59:59', %s, %s, 'online')", (eid, lat, lon))
        good_engs.append(eid)
    sites = [seed_site(stack.database_url, lat=lat, lon=lon) for _ in range(4)]
    bad_dev, good_devs = sites[0]["dev"], [s["dev"] for s in sites[1:]]
    time.sleep(6)  # the workers reload the device registry every 5 s
    ahead = 23 * 3600_000
    client = stack.mqtt_client()
    try:
        for rnd in range(6):
            ts = int(time.time() * 1000)
            for eng in [*good_engs, bad_eng]:
                skew = ahead if eng == bad_eng else 0
                client.publish(f"fieldflow/engineers/{eng}/location", json.dumps(
                    {"ts": ts + skew, "lat": lat, "lon": lon, "acc": 10}), qos=1)
            for dev in [*good_devs, bad_dev]:
                skew = ahead if dev == bad_dev else 0
                client.publish(f"fieldflow/devices/{dev}/telemetry", json.dumps(
                    {"ts": ts + skew, "metrics": {"temperature": 20.0 + rnd}}), qos=1)
            time.sleep(5)
    finally:
        client.loop_stop()
        client.disconnect()
    flagged = query(stack.database_url, "SELECT topic, key, partition FROM clock_skew_events"
                    " WHERE key = ANY(%s)", ([bad_eng, bad_dev, *good_engs, *good_devs],))
    assert {(t, k) for t, k, _ in flagged} == {("telemetry.positions", bad_eng),
                                                ("telemetry.readings", bad_dev)}
    assert len(flagged) == 12  # every one of their records, and only theirs
    assert {p for t, k, p in flagged if t == "telemetry.positions"} == {part}
    # Stored as usual.
    assert query(stack.database_url, "SELECT count(*) FROM positions WHERE engineer_id = %s",
                 (bad_eng,)) == [(6,)]
    # Nobody else changed state: every good engineer online, no device offline alert.
    states = dict(query(stack.database_url, "SELECT id, status FROM engineers WHERE id = ANY(%s)",
                        (good_engs,)))
    assert states == dict.fromkeys(good_engs, "online")
    assert query(stack.database_url, "SELECT device_id, fault_type FROM alerts"
                 " WHERE device_id = ANY(%s)", (good_devs,)) == []
