"""Work orders through the API: lifecycle, checklist gate, parts and low stock, sign-off,
rating, ETA, tracking, alerts, geofence events, KPIs, Kafka and MQTT side effects."""

from __future__ import annotations

import io
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.e2e.conftest import Stack, wait_until
from tests.e2e.seed import query, uid
from tests.e2e.test_api_world import (
    assert_error,
    day_left_or_skip,
    make_order,
    make_world,
    move,
    ok,
)

pytestmark = pytest.mark.e2e



def jpeg(colour: tuple[int, int, int] = (10, 120, 200)) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, "JPEG")
    return out.getvalue()


def upload(client: Any, order_id: str, kind: str, data: bytes, **fields: str) -> dict[str, Any]:
    resp = client.post(f"/api/v1/work-orders/{order_id}/attachments",
                       files={"file": (f"{kind}.jpg", data, "image/jpeg")},
                       data={"kind": kind, **fields})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def test_full_lifecycle_with_checklist_gate(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    eng = w.engineers[0]
    with stack.api() as api:
        order = make_order(api, w)
        assert order["status"] == "new" and order["customer_id"] == w.customer
        assert order["sla_due"] is not None  # from the customer's SLA tier
        err = assert_error(move(api, order["id"], "en_route"), 409)
        assert "illegal transition new -> en_route" in err["message"]
        assert_error(move(api, order["id"], "assigned"), 409)  # no engineer
        assert_error(move(api, order["id"], "bogus"), 422)
    with stack.api(w.tokens[eng]) as me:
        assert_error(me.get(f"/api/v1/work-orders/{order['id']}"), 404)  # not assigned yet
    with stack.api() as api:
        ok(move(api, order["id"], "assigned", engineer_id=eng))
    with stack.api(w.tokens[eng]) as me:
        for to in ("accepted", "en_route"):
            assert ok(move(me, order["id"], to))["status"] == to
        assert_error(move(me, order["id"], "on_site"), 409)  # by hand needs a reason
        ok(move(me, order["id"], "on_site", reason="GPS is down"))
        ok(move(me, order["id"], "in_progress"))
        ok(move(me, order["id"], "waiting_parts"))
        ok(move(me, order["id"], "in_progress"))
        err = assert_error(move(me, order["id"], "completed"), 409)
        assert "checklist" in err["message"]
        cl = ok(me.get(f"/api/v1/work-orders/{order['id']}/checklist"))
        assert cl["complete"] is False
        assert {i["id"] for i in cl["items"] if i["required"]} == {"diagnosis", "photo_after",
                                                                   "test_run"}
        err = assert_error(me.put(f"/api/v1/work-orders/{order['id']}/checklist", json={
            "answers": {"diagnosis": True, "photo_after": {"ref": "x.jpg"}}}), 422)
        assert "attachment" in err["message"]
        err = assert_error(me.put(f"/api/v1/work-orders/{order['id']}/checklist", json={
            "answers": {"photo_after": "att-0000000000000000"}}), 422)
        assert "not an attachment of work order" in err["message"]
        sig = upload(me, order["id"], "signature", jpeg((0, 0, 0)))
        err = assert_error(me.put(f"/api/v1/work-orders/{order['id']}/checklist", json={
            "answers": {"photo_after": sig["id"]}}), 422)
        assert "is a signature, this item needs a photo" in err["message"]
        photo_att = upload(me, order["id"], "photo", jpeg(), captured_at="2026-11-23T10:00:00Z",
                           lat="51.5", lon="-0.12")
        assert_error(me.put(f"/api/v1/work-orders/{order['id']}/checklist", json={
            "answers": {"nope": True}}), 422)
        assert_error(me.put(f"/api/v1/work-orders/{order['id']}/checklist", json={
            "answers": {"diagnosis": "yes"}}), 422)
        cl = ok(me.put(f"/api/v1/work-orders/{order['id']}/checklist", json={
            "answers": {"diagnosis": True, "photo_after": photo_att["id"]}}))
        assert cl["complete"] is False
        cl = ok(me.put(f"/api/v1/work-orders/{order['id']}/checklist",
                       json={"answers": {"test_run": True}}))
        assert cl["complete"] is True
        photo = next(i for i in cl["items"] if i["id"] == "photo_after")["value"]
        assert photo["attachment_id"] == photo_att["id"] and photo["lat"] == 51.5
        assert photo["sha256"] == photo_att["sha256"]
        assert photo["captured_at"].startswith("2026-11-23T10:00:00")
        ok(move(me, order["id"], "completed"))
        assert_error(me.post(f"/api/v1/work-orders/{order['id']}/rating",
                             json={"rating": 5}), 403)
        signed = ok(me.post(f"/api/v1/work-orders/{order['id']}/sign-off",
                            json={"signed_by": "Ada Lovelace"}))
        assert signed["status"] == "signed_off" and signed["signed_by"] == "Ada Lovelace"
        assert_error(move(me, order["id"], "closed"), 403)
        assert_error(me.put(f"/api/v1/work-orders/{order['id']}/checklist",
                            json={"answers": {"test_run": False}}), 409)
    with stack.api() as api:
        assert_error(api.post(f"/api/v1/work-orders/{order['id']}/rating",
                              json={"rating": 9}), 422)
        rated = ok(api.post(f"/api/v1/work-orders/{order['id']}/rating",
                            json={"rating": 4, "feedback": "quick and tidy"}))
        assert rated["rating"] == 4
        ok(move(api, order["id"], "closed"))
        assert_error(move(api, order["id"], "cancelled", reason="x"), 409)
        events = ok(api.get(f"/api/v1/work-orders/{order['id']}/events", params={"limit": 100}))
        assert [e["to_status"] for e in events["items"]] == [
            "new", "assigned", "accepted", "en_route", "on_site", "in_progress", "waiting_parts",
            "in_progress", "completed", "signed_off", "closed"]
        assert events["total"] == 11
        assert {e["actor"] for e in events["items"]} >= {"admin"}
        kpi = ok(api.get("/api/v1/kpis", params={"group_by": "engineer", "bucket": "hour"}))
        mine = [r for r in kpi["items"] if r["group"] == eng]
        assert mine and mine[0]["orders"] == 1 and mine[0]["completed"] == 1
        assert mine[0]["first_time_fix_rate"] == 0.0  # it waited for parts
        assert mine[0]["time_to_resolve_s"] > 0 and mine[0]["first_response_s"] >= 0
        for group in ("site", "customer"):
            rows = ok(api.get("/api/v1/kpis", params={"group_by": group}))["items"]
            assert any(r["group"] in (w.site, w.customer) for r in rows)
        assert_error(api.get("/api/v1/kpis", params={"group_by": "planet"}), 422)
        assert_error(api.get("/api/v1/kpis", params={"from": "2026-01-02T00:00:00Z",
                                                      "to": "2026-01-01T00:00:00Z"}), 422)


def test_cancel_reject_and_filters(stack: Stack) -> None:
    w = make_world(stack, engineers=2)
    a, b = w.engineers
    with stack.api() as api:
        o1 = make_order(api, w, priority="P1")
        o2 = make_order(api, w, priority="P4")
        ok(move(api, o1["id"], "assigned", engineer_id=a))
        assert_error(move(api, o2["id"], "cancelled"), 409)  # needs a reason
        ok(move(api, o2["id"], "cancelled", reason="duplicate"))
        got = ok(api.get("/api/v1/work-orders", params={"site_id": w.site, "priority": "P1"}))
        assert [o["id"] for o in got["items"]] == [o1["id"]]
        got = ok(api.get("/api/v1/work-orders", params={"site_id": w.site, "open_only": True}))
        assert [o["id"] for o in got["items"]] == [o1["id"]]
        got = ok(api.get("/api/v1/work-orders", params={"engineer_id": a}))
        assert got["total"] == 1
        got = ok(api.get("/api/v1/work-orders", params={"site_id": w.site, "status": "cancelled"}))
        assert [o["id"] for o in got["items"]] == [o2["id"]]
        got = ok(api.get("/api/v1/work-orders", params={"site_id": w.site,
                                                        "from": "2100-01-01T00:00:00Z"}))
        assert got["total"] == 0
        same = make_order(api, w, idempotency_key=f"req-{o1['id']}")
        again = ok(api.post("/api/v1/work-orders", json={
            "title": "again", "site_id": w.site, "idempotency_key": f"req-{o1['id']}"}), 201)
        assert again["id"] == same["id"]
        assert_error(api.post("/api/v1/work-orders", json={"title": "x", "site_id": "nope"}), 422)
        assert_error(api.post("/api/v1/work-orders", json={"title": "x",
                                                            "order_type": "nope"}), 422)
    with stack.api(w.tokens[a]) as me:
        ok(move(me, o1["id"], "rejected", reason="van broke down"))
    with stack.api() as api:
        back = ok(api.get(f"/api/v1/work-orders/{o1['id']}"))
        assert back["status"] == "new" and back["engineer_id"] is None
        ok(move(api, o1["id"], "assigned", engineer_id=b))


def test_rejected_order_is_redispatched_but_never_back_to_a_rejecter(stack: Stack) -> None:
    day_left_or_skip()
    w = make_world(stack, engineers=2)
    skill = uid("skill")  # only this world's two engineers can take the order
    with stack.api() as api:
        for eng in w.engineers:
            ok(api.patch(f"/api/v1/engineers/{eng}", json={"skills": ["hvac", skill]}))
        for i, eng in enumerate(w.engineers):  # a fix makes an engineer online: dispatchable
            stack.publish(f"fieldflow/engineers/{eng}/location", json.dumps({
                "ts": int(time.time() * 1000), "lat": w.lat + 0.01 * (i + 1), "lon": w.lon,
                "acc": 5}))
        wait_until(lambda: all(ok(api.get(f"/api/v1/engineers/{e}"))["status"] == "online"
                               for e in w.engineers), timeout_s=30)
        order = make_order(api, w, required_skills=[skill])

        def assigned_to(exclude: set[str]) -> str | None:
            got = ok(api.get(f"/api/v1/work-orders/{order['id']}"))
            eng = got["engineer_id"]
            return eng if got["status"] == "assigned" and eng not in exclude else None

        first = wait_until(lambda: assigned_to(set()), timeout_s=40)  # the dispatch timer
    with stack.api(w.tokens[first]) as me:
        ok(move(me, order["id"], "rejected", reason="not my area"))
    with stack.api() as api:
        second = wait_until(lambda: assigned_to({first}), timeout_s=40)
        assert second != first
    with stack.api(w.tokens[second]) as me:
        ok(move(me, order["id"], "rejected", reason="no time"))
    time.sleep(25)  # two dispatch rounds: nobody left who has not rejected it
    with stack.api() as api:
        back = ok(api.get(f"/api/v1/work-orders/{order['id']}"))
        assert back["status"] == "new" and back["engineer_id"] is None
        ok(move(api, order["id"], "assigned", engineer_id=first))  # by hand: allowed


def test_parts_decrement_van_stock_and_raise_low_stock(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    eng = w.engineers[0]
    with stack.api() as api:
        order = make_order(api, w)
        assert_error(api.post(f"/api/v1/work-orders/{order['id']}/parts",
                              json={"part_id": w.part}), 409)  # nobody's van yet
        ok(move(api, order["id"], "assigned", engineer_id=eng))
    with stack.api(w.tokens[eng]) as me:
        used = ok(me.post(f"/api/v1/work-orders/{order['id']}/parts",
                          json={"part_id": w.part, "qty": 1}), 201)
        assert used["stock_left"] == 2 and used["low_stock_alert"] is False
        used = ok(me.post(f"/api/v1/work-orders/{order['id']}/parts",
                          json={"part_id": w.part, "qty": 1}), 201)
        assert used["stock_left"] == 1 and used["low_stock_alert"] is True
        err = assert_error(me.post(f"/api/v1/work-orders/{order['id']}/parts",
                                   json={"part_id": w.part, "qty": 5}), 409)
        assert "holds 1" in err["message"]
        assert ok(me.get(f"/api/v1/engineers/{eng}/van-stock"))[0]["qty"] == 1
        assert len(ok(me.get(f"/api/v1/work-orders/{order['id']}/parts"))) == 2
    with stack.api() as api:
        alerts = ok(api.get("/api/v1/alerts", params={"kind": "low_stock",
                                                      "device_id": f"van:{eng}"}))
        assert alerts["total"] == 1 and alerts["items"][0]["state"] == "open"
        alert_id = alerts["items"][0]["id"]
        acked = ok(api.post(f"/api/v1/alerts/{alert_id}/acknowledge"))
        assert acked["state"] == "acknowledged" and acked["acknowledged_by"] == "admin"
        assert_error(api.post(f"/api/v1/alerts/{alert_id}/acknowledge"), 409)
        assert ok(api.post(f"/api/v1/alerts/{alert_id}/clear"))["state"] == "cleared"
        assert_error(api.post(f"/api/v1/alerts/{alert_id}/clear"), 409)
        assert_error(api.post("/api/v1/alerts/999999999/clear"), 404)
    msgs = stack.consume("events.alerts", until=lambda ms: any(
        json.loads(m.value()).get("device_id") == f"van:{eng}"
        and json.loads(m.value())["state"] == "cleared" for m in ms), timeout_s=30)
    mine = [json.loads(m.value()) for m in msgs if m.key() == f"van:{eng}".encode()]
    assert [m["state"] for m in mine] == ["opened", "updated", "cleared"]


def test_eta_tracking_and_geofence_events(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    eng = w.engineers[0]
    with stack.api() as api:
        order = make_order(api, w)
        other = make_order(api, w)
        err = assert_error(api.get(f"/api/v1/work-orders/{order['id']}/eta"), 404)
        assert "no ETA" in err["message"]
        ok(move(api, order["id"], "assigned", engineer_id=eng))
        tok = ok(api.post(f"/api/v1/work-orders/{order['id']}/tracking-token", json={}), 201)
        assert tok["url"] == f"/track/{tok['token']}"
    query(stack.database_url,
          "INSERT INTO eta_latest (work_order_id, engineer_id, ts, eta, remaining_m, speed_mps,"
          " confidence) VALUES (%s, %s, now(), now() + interval '12 minutes', 4200, 9, 0.8)",
          (order["id"], eng))
    query(stack.database_url,
          "INSERT INTO engineer_last_position (engineer_id, ts, lat, lon, source) VALUES"
          " (%s, now(), 51.52, -0.12, 'native') ON CONFLICT (engineer_id) DO UPDATE"
          " SET lat = 51.52", (eng,))
    query(stack.database_url,
          "INSERT INTO geofence_events (event_key, engineer_id, site_id, work_order_id, kind, ts)"
          " VALUES (%s, %s, %s, %s, 'enter', now())",
          (f"test:{order['id']}", eng, w.site, order["id"]))
    with stack.api() as api:
        eta = ok(api.get(f"/api/v1/work-orders/{order['id']}/eta"))
        assert eta["remaining_m"] == 4200 and eta["engineer_id"] == eng
        geo = ok(api.get("/api/v1/geofence-events", params={"engineer_id": eng}))
        assert geo["total"] == 1 and geo["items"][0]["site_id"] == w.site
    with stack.api(w.tokens[eng]) as me:
        assert ok(me.get("/api/v1/geofence-events"))["total"] == 1
    import httpx
    status = ok(httpx.get(f"{stack.api_url}/track/{tok['token']}/status"))
    assert status["status"] == "assigned" and status["engineer_name"].startswith("Engineer")
    assert status["eta"] is not None and status["engineer_position"] is None
    with stack.api() as api:
        ok(move(api, order["id"], "accepted"))
        ok(move(api, order["id"], "en_route"))
    status = ok(httpx.get(f"{stack.api_url}/track/{tok['token']}/status"))
    assert status["engineer_position"]["lat"] == 51.52
    page = httpx.get(f"{stack.api_url}/track/{tok['token']}")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert_error(httpx.get(f"{stack.api_url}/track/not-a-token/status"), 404)
    # A tracking link opens only its tracking page: the REST API answers 401 (issue #22).
    with stack.api(tok["token"]) as customer:
        for path in (f"/api/v1/work-orders/{order['id']}", f"/api/v1/work-orders/{order['id']}/eta",
                     f"/api/v1/work-orders/{order['id']}/events", "/api/v1/work-orders",
                     f"/api/v1/work-orders/{other['id']}", "/api/v1/customers"):
            assert_error(customer.get(path), 401)
        assert_error(move(customer, order["id"], "cancelled", reason="x"), 401)


def test_publishes_events_to_kafka_and_assignments_over_mqtt(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    eng = w.engineers[0]
    inbox: list[dict] = []
    got = threading.Event()
    client = stack.mqtt_client()

    def on_message(_c, _u, msg) -> None:  # type: ignore[no-untyped-def]
        inbox.append(json.loads(msg.payload))
        got.set()

    client.on_message = on_message
    client.subscribe(f"fieldflow/engineers/{eng}/inbox", qos=1)
    time.sleep(0.5)
    try:
        with stack.api() as api:
            order = make_order(api, w)
            ok(move(api, order["id"], "assigned", engineer_id=eng))
        assert got.wait(15), "no assignment on the engineer's inbox"
    finally:
        client.loop_stop()
        client.disconnect()
    assert inbox[0]["type"] == "assignment" and inbox[0]["work_order_id"] == order["id"]
    assert inbox[0]["lat"] == w.lat
    msgs = stack.consume("events.workorders", until=lambda ms: sum(
        m.key() == order["id"].encode() for m in ms) >= 2, timeout_s=30)
    mine = [json.loads(m.value()) for m in msgs if m.key() == order["id"].encode()]
    assert [m["to_status"] for m in mine] == ["new", "assigned"]
    assert mine[1]["engineer_id"] == eng and mine[1]["actor"] == "admin"


def test_dispatcher_changes_an_open_order_and_the_history_says_what(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    eng = w.engineers[0]
    with stack.api() as api:
        order = make_order(api, w, window_start="2030-01-02T09:00:00Z",
                           window_end="2030-01-02T12:00:00Z")
        ok(move(api, order["id"], "assigned", engineer_id=eng))
        url = f"/api/v1/work-orders/{order['id']}"
        got = ok(api.patch(url, json={"window_start": "2030-01-02T13:00:00+01:00",
                                      "window_end": "2030-01-02T15:00:00Z", "priority": "P1"}))
        assert [datetime.fromisoformat(got[k]) for k in ("window_start", "window_end")] == [
            datetime(2030, 1, 2, 12, tzinfo=UTC), datetime(2030, 1, 2, 15, tzinfo=UTC)]
        assert got["priority"] == "P1"
        assert (got["status"], got["engineer_id"]) == ("assigned", eng)  # kept
        hist = ok(api.get(f"{url}/events", params={"limit": 100}))["items"]
        change = hist[-1]
        assert (change["from_status"], change["to_status"]) == ("assigned", "assigned")
        assert change["reason"] == "changed priority, window_start, window_end"
        assert change["details"]["changed"]["priority"] == {"from": "P2", "to": "P1"}
        assert ok(api.patch(url, json={"priority": "P1"}))["updated_at"] == got["updated_at"]
        assert len(ok(api.get(f"{url}/events", params={"limit": 100}))["items"]) == len(hist)
        cleared = ok(api.patch(url, json={"window_end": None}))
        assert cleared["window_end"] is None
        # An end before the (stored) start; a null title; an unknown field; unknown order.
        err = assert_error(api.patch(url, json={"window_end": "2030-01-02T11:00:00Z"}), 422)
        assert "window_end must be after window_start" in err["message"]
        assert_error(api.patch(url, json={"title": None}), 422)
        assert_error(api.patch(url, json={"status": "closed"}), 422)
        assert_error(api.patch(url, json={"window_start": "2030-01-02T09:00:00"}), 422)
        assert_error(api.patch("/api/v1/work-orders/WO-NOPE", json={"priority": "P1"}), 404)
        # Engineers and customers may not change orders; a cancelled one is final.
        with stack.api(w.tokens[eng]) as me:
            assert_error(me.patch(url, json={"priority": "P4"}), 403)
        ok(move(api, order["id"], "cancelled", reason="customer fixed it"))
        err = assert_error(api.patch(url, json={"priority": "P4"}), 409)
        assert "can no longer be changed" in err["message"]
