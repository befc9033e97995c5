"""Stream agents over the real stack: check-ins, ETAs, alerts -> one work order."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from typing import Any

import pytest

from models.geo import offset_m
from tests.e2e.conftest import Stack, wait_until
from tests.e2e.seed import query, seed_engineer, seed_site, uid

pytestmark = pytest.mark.e2e


def _order(stack: Stack, site: dict[str, Any], engineer: str, status: str,
           due: str = "4 hours") -> str:
    oid = uid("WO")
    query(stack.database_url,
          "INSERT INTO work_orders (id, title, status, priority, customer_id, site_id, asset_id,"
          " engineer_id, sla_due) VALUES (%s, 'Test', %s, 'P2', %s, %s, %s, %s,"
          " now() + %s::interval) RETURNING id",
          (oid, status, site["cust"], site["site"], site["asset"], engineer, due))
    return oid


def _sla_risk(stack: Stack, order: str) -> None:
    """An open ``sla_risk`` alert for the order, as the ETA agent opens it."""
    query(stack.database_url,
          "INSERT INTO alerts (dedup_key, device_id, fault_type, kind, severity, opened_at,"
          " updated_at) VALUES (%s, %s, 'sla_risk', 'sla_risk', 'major', now(), now())",
          (f"sla:{order}", order))


def test_drive_to_site_checks_in_once(stack: Stack) -> None:
    lat, lon = 51.5, -0.12
    site = seed_site(stack.database_url, lat=lat, lon=lon, radius_m=100)
    start = offset_m(lat, lon, -2000, 0)
    eng = seed_engineer(stack.database_url, lat=start[0], lon=start[1])
    order = _order(stack, site, eng, "en_route")
    _sla_risk(stack, order)
    time.sleep(6)  # agents reload sites and active orders every 5 s

    t0 = int(time.time() * 1000)
    client = stack.mqtt_client()
    rng = random.Random(1)
    fixes = []
    for i in range(41):  # 2 km at 10 m/s, a fix every 5 s, GPS noise
        north = -2000 + i * 50
        la, lo = offset_m(lat, lon, north + rng.gauss(0, 8), rng.gauss(0, 8))
        fixes.append({"ts": t0 + i * 5000, "lat": la, "lon": lo, "acc": 10, "spd": 10.0})
    for j in range(1, 37):  # 6 minutes on site, standing near the centre
        la, lo = offset_m(lat, lon, rng.gauss(0, 10), rng.gauss(0, 10))
        fixes.append({"ts": t0 + 200_000 + j * 10_000, "lat": la, "lon": lo, "acc": 12, "spd": 0})
    for f in fixes:
        client.publish(f"fieldflow/engineers/{eng}/location", json.dumps(f), qos=1)
    client.loop_stop()
    client.disconnect()

    wait_until(lambda: query(stack.database_url, "SELECT status FROM work_orders WHERE id = %s",
                             (order,))[0][0] == "on_site", timeout_s=60)
    checkin = query(stack.database_url, "SELECT checkin_at FROM work_orders WHERE id = %s",
                    (order,))[0][0]
    assert checkin is not None
    arrived_ms = checkin.timestamp() * 1000
    # The engineer crossed the 100 m radius about 190 s after the start.
    assert t0 + 170_000 <= arrived_ms <= t0 + 215_000
    enters = query(stack.database_url, "SELECT kind, work_order_id FROM geofence_events"
                   " WHERE engineer_id = %s AND site_id = %s", (eng, site["site"]))
    assert enters == [("enter", order)]
    events = query(stack.database_url, "SELECT from_status, to_status, actor FROM"
                   " work_order_events WHERE work_order_id = %s", (order,))
    assert events == [("en_route", "on_site", "geofence")]
    # An ETA was kept while the engineer was en route.
    eta = query(stack.database_url, "SELECT remaining_m FROM eta_latest WHERE work_order_id = %s",
                (order,))
    assert eta and eta[0][0] >= 0
    # In time for the SLA; the order's sla_risk alert is over once it is on site.
    assert query(stack.database_url, "SELECT sla_breached FROM work_orders WHERE id = %s",
                 (order,)) == [(False,)]
    wait_until(lambda: query(stack.database_url, "SELECT state FROM alerts WHERE dedup_key = %s",
                             (f"sla:{order}",)) == [("cleared",)], timeout_s=20)


def test_drive_through_is_stored_and_checks_no_one_in(stack: Stack) -> None:
    lat, lon = 51.53, -0.12
    site = seed_site(stack.database_url, lat=lat, lon=lon, radius_m=100)
    start = offset_m(lat, lon, -1500, 0)
    eng = seed_engineer(stack.database_url, lat=start[0], lon=start[1])
    order = _order(stack, site, eng, "en_route", due="-1 minute")  # already past its due
    time.sleep(6)  # agents reload sites and active orders every 5 s

    t0 = int(time.time() * 1000)
    client = stack.mqtt_client()
    for i in range(9):  # 15 m/s with a fix every 30 s: no fix inside the 100 m fence
        la, lo = offset_m(lat, lon, -1500 + i * 450, 0)
        fix = {"ts": t0 + i * 30_000, "lat": la, "lon": lo, "acc": 10, "spd": 15.0}
        client.publish(f"fieldflow/engineers/{eng}/location", json.dumps(fix), qos=1)
    client.loop_stop()
    client.disconnect()

    stored = wait_until(lambda: query(
        stack.database_url, "SELECT kind, work_order_id, ts FROM geofence_events"
        " WHERE engineer_id = %s AND site_id = %s", (eng, site["site"])), timeout_s=60)
    assert [(kind, wo) for kind, wo, _ in stored] == [("pass_through", None)]
    # Crossed the fence between the fixes at -150 m (t0 + 90 s) and +300 m (t0 + 120 s).
    assert t0 + 90_000 <= stored[0][2].timestamp() * 1000 <= t0 + 120_000
    # Not on site, and past its due time: the SLA timer records the breach.
    assert wait_until(lambda: query(
        stack.database_url, "SELECT status, sla_breached FROM work_orders WHERE id = %s",
        (order,)) == [("en_route", True)], timeout_s=20)
    assert query(stack.database_url, "SELECT count(*) FROM work_order_events"
                 " WHERE work_order_id = %s", (order,)) == [(0,)]


def _worker_pid(stack: Stack) -> int:
    return int(json.loads(stack.cli("status", "--json").stdout)["services"]["worker-1"]["pid"])


def test_fault_burst_gives_one_alert_and_one_dispatched_order(stack: Stack) -> None:
    lat, lon = 51.52, -0.1
    skill = uid("skill")  # only this engineer qualifies: others online nearby cannot take it
    site = seed_site(stack.database_url, lat=lat, lon=lon, skills=[skill],
                     rules=["temperature > 90 for 60s severity major as overheating"])
    eng = seed_engineer(stack.database_url, lat=lat + 0.01, lon=lon, skills=[skill])
    query(stack.database_url, "INSERT INTO engineer_last_position (engineer_id, ts, lat, lon,"
          " source) VALUES (%s, now(), %s, %s, 'native')", (eng, lat + 0.01, lon))
    time.sleep(6)  # let the agents load the new device and its rules

    inbox: list[dict[str, Any]] = []
    sub = stack.mqtt_client()
    sub.on_message = lambda _c, _u, m: inbox.append(json.loads(m.payload))
    sub.subscribe(f"fieldflow/engineers/{eng}/inbox", qos=1)

    dev, t0 = site["dev"], int(time.time() * 1000)
    burst = [{"ts": t0 + i * 10_000, "metrics": {"temperature": 95.0 + i % 3}} for i in range(30)]
    burst = burst + burst  # every reading twice
    random.Random(7).shuffle(burst)  # and out of order
    pub = stack.mqtt_client()
    for r in burst[:30]:
        pub.publish(f"fieldflow/devices/{dev}/telemetry", json.dumps(r), qos=1)
    wait_until(lambda: query(stack.database_url, "SELECT count(*) FROM alerts WHERE device_id = %s",
                             (dev,))[0][0] >= 1, timeout_s=60)
    old = _worker_pid(stack)
    os.kill(old, signal.SIGKILL)  # the supervisor restarts it
    wait_until(lambda: _worker_pid(stack) != old, timeout_s=30)
    for r in burst[30:]:
        pub.publish(f"fieldflow/devices/{dev}/telemetry", json.dumps(r), qos=1)
    pub.loop_stop()
    pub.disconnect()

    def assigned() -> list[tuple[Any, ...]]:
        rows = query(stack.database_url, "SELECT id, status, engineer_id FROM work_orders"
                     " WHERE asset_id = %s", (site["asset"],))
        return rows if rows and rows[0][1] == "assigned" else []

    orders = wait_until(assigned, timeout_s=90)
    wait_until(lambda: query(stack.database_url, "SELECT count(*) FROM readings"
                             " WHERE device_id = %s", (dev,))[0][0] == 30, timeout_s=60)
    time.sleep(5)  # give a duplicate every chance to appear
    orders = query(stack.database_url, "SELECT id, status, engineer_id, priority, fault_type"
                   " FROM work_orders WHERE asset_id = %s", (site["asset"],))
    assert len(orders) == 1
    order_id, _status, engineer, priority, fault = orders[0]
    assert (engineer, priority, fault) == (eng, "P2", "overheating")
    alerts = query(stack.database_url, "SELECT fault_type, state, work_order_id FROM alerts"
                   " WHERE device_id = %s", (dev,))
    assert alerts == [("overheating", "open", order_id)]
    wait_until(lambda: inbox, timeout_s=20)
    sub.loop_stop()
    sub.disconnect()
    assert [m["work_order_id"] for m in inbox] == [order_id]
    assert inbox[0]["type"] == "assignment"
