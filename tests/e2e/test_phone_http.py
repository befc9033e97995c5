"""Phones over HTTP through the real stack: Traccar Client (query string and JSON body),
OwnTracks in HTTP mode and the app's native batch land in ``telemetry.positions``, are
stored, and check the engineer in by the geofence; bad requests get their 4xx, a
dead-letter entry, and valid traffic flows on. Enrolment links work once.

The requests are shaped as the apps send them: Traccar Client's query parameters and JSON
location template as in traccar/traccar's ``OsmAndProtocolDecoderTest`` and
traccar/traccar-client's ``lib/preferences.dart``; OwnTracks' HTTP mode posts the same
``_type: location`` JSON as over MQTT with Basic auth and the ``X-Limit-U``/``X-Limit-D``
headers, and expects a JSON array back.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from models.geo import offset_m
from tests.e2e.conftest import Stack, wait_until
from tests.e2e.seed import query, seed_engineer, seed_site, uid
from tests.e2e.test_ingest import consume_all

pytestmark = pytest.mark.e2e

LAT, LON = 51.52, -0.09


def _order(stack: Stack, site: dict[str, str], engineer: str) -> str:
    oid = uid("WO")
    query(stack.database_url,
          "INSERT INTO work_orders (id, title, status, priority, customer_id, site_id, asset_id,"
          " engineer_id) VALUES (%s, 'Phone test', 'en_route', 'P2', %s, %s, %s, %s)",
          (oid, site["cust"], site["site"], site["asset"], engineer))
    return oid


def _world(stack: Stack, lat: float) -> tuple[dict[str, str], str, str, str]:
    """A site, an engineer with a tracker id, and an en-route order there."""
    site = seed_site(stack.database_url, lat=lat, lon=LON, radius_m=100)
    eng = seed_engineer(stack.database_url, lat=lat - 0.01, lon=LON)
    tracker = str(abs(hash(eng)) % 10**9)
    with stack.api() as api:
        resp = api.patch(f"/api/v1/engineers/{eng}", json={"tracker_id": tracker})
        assert resp.status_code == 200 and resp.json()["tracker_id"] == tracker, resp.text
    return site, eng, tracker, _order(stack, site, eng)


def _drive(lat: float, t0_ms: int) -> list[tuple[int, float, float, float]]:
    """(ts ms, lat, lon, speed m/s): 600 m in at 10 m/s, then 5 minutes near the centre."""
    fixes = []
    for i in range(13):
        la, lo = offset_m(lat, LON, -600 + i * 50, 0)
        fixes.append((t0_ms + i * 5000, la, lo, 10.0))
    for j in range(1, 31):
        la, lo = offset_m(lat, LON, (j % 3) * 5.0, (j % 2) * 5.0)
        fixes.append((t0_ms + 60_000 + j * 10_000, la, lo, 0.0))
    return fixes


def _checked_in(stack: Stack, order: str, engineer: str, source: str) -> None:
    wait_until(lambda: query(stack.database_url, "SELECT status FROM work_orders WHERE id = %s",
                             (order,))[0][0] == "on_site", timeout_s=90)
    events = query(stack.database_url, "SELECT from_status, to_status, actor FROM"
                   " work_order_events WHERE work_order_id = %s", (order,))
    assert events == [("en_route", "on_site", "geofence")]
    def stored() -> bool:
        return query(stack.database_url, "SELECT count(*), min(source), max(source) FROM"
                     " positions WHERE engineer_id = %s", (engineer,))[0] == (43, source, source)

    wait_until(stored, timeout_s=60)


def test_traccar_client_query_string_checks_in(stack: Stack) -> None:
    site, eng, tracker, order = _world(stack, LAT)
    time.sleep(6)  # agents reload sites and active orders every 5 s
    t0 = int(time.time() * 1000) - 600_000
    with httpx.Client(base_url=stack.api_url, timeout=10) as phone:
        for n, (ts, la, lo, spd) in enumerate(_drive(LAT, t0)):
            params = {"id": tracker, "timestamp": str(ts // 1000), "lat": f"{la:.7f}",
                      "lon": f"{lo:.7f}", "speed": f"{spd / 0.514444:.2f}", "bearing": "0.0",
                      "altitude": "35.0", "accuracy": "8.0", "batt": "77"}
            # Traccar Client for Android POSTs the parameters in the URL with an empty body;
            # OsmAnd and scripts use GET.
            resp = (phone.post("/ingest/osmand", params=params) if n % 2 else
                    phone.get("/ingest/osmand", params=params))
            assert resp.status_code == 200, resp.text
    _checked_in(stack, order, eng, "traccar")
    speed = query(stack.database_url, "SELECT speed_mps, battery FROM positions WHERE"
                  " engineer_id = %s ORDER BY ts LIMIT 1", (eng,))[0]
    assert speed[0] == pytest.approx(10.0, abs=0.01) and speed[1] == 77
    assert site["site"]


def test_traccar_client_json_body_checks_in(stack: Stack) -> None:
    lat = LAT + 0.05
    _site, eng, tracker, order = _world(stack, lat)
    time.sleep(6)
    t0 = int(time.time() * 1000) - 600_000
    with httpx.Client(base_url=stack.api_url, timeout=10) as phone:
        for ts, la, lo, spd in _drive(lat, t0):
            iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts / 1000)) + f".{ts % 1000:03d}Z"
            body = {"location": {
                "timestamp": iso,
                "coords": {"latitude": la, "longitude": lo, "accuracy": 5, "speed": spd,
                           "heading": -1, "altitude": 5},
                "is_moving": spd > 0, "odometer": 0, "event": "", "battery": {
                    "level": 0.79, "is_charging": False},
                "activity": {"type": "in_vehicle" if spd else "still"}, "extras": {},
                "_": f"&id={tracker}&lat={la}&lon={lo}&timestamp={iso}&"},
                "device_id": tracker}
            resp = phone.post("/ingest/osmand", content=json.dumps(body),
                              headers={"Content-Type": "application/json"})
            assert resp.status_code == 200, resp.text
    _checked_in(stack, order, eng, "traccar")
    row = query(stack.database_url, "SELECT battery, heading FROM positions WHERE"
                " engineer_id = %s LIMIT 1", (eng,))[0]
    assert row == (79.0, None)


def _enrol(stack: Stack, engineer: str) -> str:
    with stack.api() as api:
        link = api.post(f"/api/v1/engineers/{engineer}/enrolment")
    assert link.status_code == 201, link.text
    got = httpx.post(f"{stack.api_url}/api/v1/enrolment/redeem", json={"code": link.json()["code"]})
    assert got.status_code == 200 and got.json()["engineer_id"] == engineer, got.text
    return str(got.json()["token"])


def test_owntracks_http_mode_checks_in(stack: Stack) -> None:
    lat = LAT + 0.10
    _site, eng, _tracker, order = _world(stack, lat)
    token = _enrol(stack, eng)
    time.sleep(6)
    t0 = int(time.time() * 1000) - 600_000
    auth = "Basic " + base64.b64encode(f"{eng}:{token}".encode()).decode()
    headers = {"Authorization": auth, "X-Limit-U": eng, "X-Limit-D": "phone",
               "Content-Type": "application/json"}
    with httpx.Client(base_url=stack.api_url, timeout=10) as phone:
        for ts, la, lo, spd in _drive(lat, t0):
            body = {"_type": "location", "tid": "ph", "tst": ts // 1000, "lat": round(la, 7),
                    "lon": round(lo, 7), "acc": 8, "vel": round(spd * 3.6), "batt": 64,
                    "conn": "m", "BSSID": "", "t": "u", "alt": 20, "vac": 3}
            resp = phone.post("/ingest/owntracks", content=json.dumps(body), headers=headers)
            assert resp.status_code == 200 and resp.json() == [], resp.text
        # Not telemetry: answered [] and dead-lettered as on MQTT, nothing stored.
        resp = phone.post("/ingest/owntracks", headers=headers, content=json.dumps(
            {"_type": "waypoints", "waypoints": []}))
        assert resp.status_code == 200 and resp.json() == []
        wrong = {**headers, "Authorization": "Basic " + base64.b64encode(
            f"someone-else:{token}".encode()).decode()}
        assert phone.post("/ingest/owntracks", headers=wrong, content=b"{}").status_code == 401
        assert phone.post("/ingest/owntracks", content=b"{}").status_code == 401
    _checked_in(stack, order, eng, "owntracks")


def test_app_batches_check_in_and_enrolment_works_once(stack: Stack) -> None:
    lat = LAT + 0.15
    _site, eng, _tracker, order = _world(stack, lat)
    with stack.api() as api:
        link = api.post(f"/api/v1/engineers/{eng}/enrolment").json()
    assert link["url"].endswith(f"/app/#enrol={link['code']}") and "<svg" in link["qr_svg"]
    redeem = f"{stack.api_url}/api/v1/enrolment/redeem"
    first = httpx.post(redeem, json={"code": link["code"]})
    assert first.status_code == 200
    again = httpx.post(redeem, json={"code": link["code"]})
    assert again.status_code == 410 and "already used" in again.json()["error"]["message"]
    assert httpx.post(redeem, json={"code": "nope"}).status_code == 404
    with stack.api() as api:
        expired = api.post(f"/api/v1/engineers/{eng}/enrolment").json()["code"]
        assert api.post("/api/v1/engineers/nobody/enrolment").status_code == 404
    query(stack.database_url, "UPDATE enrolment_codes SET expires_at = now() - interval '1 s'"
          " WHERE engineer_id = %s AND redeemed_at IS NULL", (eng,))
    late = httpx.post(redeem, json={"code": expired})
    assert late.status_code == 410 and "expired" in late.json()["error"]["message"]
    with stack.api() as api:
        audit = api.get("/api/v1/audit", params={"entity": "engineer", "entity_id": eng}).json()
    actions = [(r["action"], r["actor"]) for r in audit["items"]]
    assert actions.count(("enrolment", "admin")) == 2
    assert actions.count(("enrolment_redeemed", f"engineer:{eng}")) == 1
    token = first.json()["token"]
    with stack.api(token) as me:
        assert me.post(f"/api/v1/engineers/{eng}/enrolment").status_code == 403
        time.sleep(6)
        fixes = [{"ts": ts, "lat": la, "lon": lo, "acc": 6, "spd": spd, "hdg": 0, "batt": 90}
                 for ts, la, lo, spd in _drive(lat, int(time.time() * 1000) - 600_000)]
        for start in range(0, len(fixes), 10):  # the app's outbox sends batches
            resp = me.post("/api/v1/positions", json=fixes[start:start + 10])
            assert resp.status_code == 202 and resp.json() == {
                "accepted": len(fixes[start:start + 10])}, resp.text
        again = me.post("/api/v1/positions", json=fixes[0])  # a replay: stored once
        assert again.status_code == 202
        wait_until(lambda: me.get(f"/api/v1/engineers/{eng}/position").status_code == 200)
    _checked_in(stack, order, eng, "native")
    with stack.api() as api:
        assert api.post("/api/v1/positions", json=fixes[0]).status_code == 403  # staff: no


def _dead(stack: Stack, want: dict[str, int]) -> Callable[[list[Any]], bool]:
    def enough(msgs: list[Any]) -> bool:
        topics = [json.loads(m.value())["topic"] for m in msgs]
        return all(topics.count(t) >= n for t, n in want.items())
    return enough


def test_bad_requests_are_answered_dead_lettered_and_valid_traffic_flows(stack: Stack) -> None:
    lat = LAT + 0.20
    _site, eng, tracker, _order_id = _world(stack, lat)
    token = _enrol(stack, eng)
    ts = int(time.time())
    marker = uid("bad")
    with httpx.Client(base_url=stack.api_url, timeout=10) as phone:
        def osm(**params: str) -> httpx.Response:
            return phone.get("/ingest/osmand", params=params)

        err = osm(id=marker, lat="51.5", lon="-0.1", timestamp=str(ts))
        assert err.status_code == 404 and "unknown device id" in err.json()["error"]["message"]
        err = osm(id=tracker, lon="-0.1", timestamp=str(ts), note=marker)
        assert err.status_code == 422 and "lat" in err.json()["error"]["message"]
        err = osm(id=tracker, lat="200", lon="-0.1", timestamp=str(ts), note=marker)
        assert err.status_code == 422 and "lat" in err.json()["error"]["message"]
        err = phone.post("/ingest/osmand", content=b"{not json " + marker.encode(),
                         headers={"Content-Type": "application/json"})
        assert err.status_code == 400 and "not JSON" in err.json()["error"]["message"]
        me = {"Authorization": f"Bearer {token}"}
        err = phone.post("/api/v1/positions", content=b"<xml>" + marker.encode(), headers=me)
        assert err.status_code == 400
        err = phone.post("/api/v1/positions", headers=me, json=[
            {"ts": ts * 1000, "lat": lat, "lon": LON, "note": marker},
            {"ts": ts * 1000 + 1000, "lat": 200, "lon": LON, "note": marker},
            {"ts": ts * 1000 + 2000, "lon": LON, "note": marker}])
        assert err.status_code == 422
        body = err.json()["error"]
        assert body["accepted"] == 1 and [r["index"] for r in body["rejected"]] == [1, 2]
        basic = "Basic " + base64.b64encode(f"{eng}:{token}".encode()).decode()
        err = phone.post("/ingest/owntracks", headers={"Authorization": basic},
                         content=b"nope " + marker.encode())
        assert err.status_code == 400
        # ... and valid traffic flows on
        ok = osm(id=tracker, lat=f"{lat}", lon=f"{LON}", timestamp=str(ts + 5))
        assert ok.status_code == 200 and ok.json() == {"accepted": 1}
    wait_until(lambda: query(stack.database_url, "SELECT count(*) FROM positions WHERE"
                             " engineer_id = %s", (eng,))[0][0] == 2, timeout_s=30)
    want = {"http:/ingest/osmand": 4, "http:/api/v1/positions": 3, "http:/ingest/owntracks": 1}
    msgs = consume_all(stack, ["ingest.deadletter"], _dead(stack, want))
    letters = [json.loads(m.value()) for m in msgs]
    mine = [d for d in letters if marker in base64.b64decode(d["payload_b64"]).decode(
        "utf-8", "replace") or tracker in base64.b64decode(d["payload_b64"]).decode(
        "utf-8", "replace") or marker in d["reason"]]
    reasons = {d["topic"]: [] for d in mine}
    for d in mine:
        reasons[d["topic"]].append(d["reason"])
    assert any("unknown device id" in r for r in reasons["http:/ingest/osmand"])
    assert any("missing field 'lat'" in r for r in reasons["http:/ingest/osmand"])
    assert any("lat: Input should be less than or equal to 90" in r
               for r in reasons["http:/ingest/osmand"])
    assert any("not JSON" in r for r in reasons["http:/ingest/osmand"])
    assert any("not JSON" in r for r in reasons["http:/api/v1/positions"])
    assert any(r.startswith("item 1: lat") for r in reasons["http:/api/v1/positions"])
    assert any(r.startswith("item 2: missing field 'lat'")
               for r in reasons["http:/api/v1/positions"])
    assert any("not JSON" in r for r in reasons["http:/ingest/owntracks"])
