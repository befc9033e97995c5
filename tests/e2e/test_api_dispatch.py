"""Dispatch through the API: auto and manual assignment, ranked candidates, P1 pre-empting
a P4, day plans (dry run and applied) and an engineer's route with ETAs; roles and errors.

Each test builds its own world whose engineers alone hold a unique skill, so engineers of
other tests never take these orders. The streams' retry round (every 10 s) may assign an
order to an online engineer before the API does; the assertions hold either way, since
both rank the same picture.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack, wait_until
from tests.e2e.test_api_world import (
    World,
    assert_error,
    make_engineer,
    make_order,
    make_world,
    move,
    ok,
    uid,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("day_left")]  # today's shift


def skilled_world(stack: Stack, engineers: int = 2) -> tuple[World, str]:
    """A world whose engineers (offline for now) alone have a fresh skill."""
    w = make_world(stack, engineers=engineers)
    skill = uid("skill")
    with stack.api() as api:
        for eng in w.engineers:
            ok(api.patch(f"/api/v1/engineers/{eng}", json={"skills": ["hvac", skill]}))
    return w, skill


def set_online(api: httpx.Client, *engineers: str) -> None:
    for eng in engineers:
        ok(api.patch(f"/api/v1/engineers/{eng}", json={"status": "online"}))


def assign(api: httpx.Client, order_id: str, body: Any = None) -> httpx.Response:
    if body is None:
        return api.post(f"/api/v1/work-orders/{order_id}/assign")
    return api.post(f"/api/v1/work-orders/{order_id}/assign", json=body)


def get_order(api: httpx.Client, order_id: str) -> dict[str, Any]:
    return ok(api.get(f"/api/v1/work-orders/{order_id}"))  # type: ignore[no-any-return]


def events(api: httpx.Client, order_id: str) -> list[dict[str, Any]]:
    page = ok(api.get(f"/api/v1/work-orders/{order_id}/events", params={"limit": 100}))
    return page["items"]  # type: ignore[no-any-return]


def staff_token(api: httpx.Client, role: str = "dispatcher") -> str:
    user = uid("user")
    ok(api.post("/api/v1/users", json={"id": user, "name": role, "role": role}), 201)
    return ok(api.post(f"/api/v1/users/{user}/tokens", json={}), 201)["token"]  # type: ignore[no-any-return]


def customer_token(api: httpx.Client, order_id: str) -> str:
    return ok(api.post(f"/api/v1/work-orders/{order_id}/tracking-token", json={}),  # type: ignore[no-any-return]
              201)["token"]


def test_auto_assign_takes_the_best_and_never_goes_back_to_a_rejecter(stack: Stack) -> None:
    w, skill = skilled_world(stack)
    near, far = w.engineers  # homes 1.1 km and 2.2 km from the site
    with stack.api() as api:
        order = make_order(api, w, required_skills=[skill])
        err = assert_error(assign(api, order["id"]), 409)  # everyone offline
        assert "none is online" in err["message"] and order["id"] in err["message"]
        assert get_order(api, order["id"])["status"] == "new"
        set_online(api, near, far)
        got = ok(assign(api, order["id"]))  # no body at all: auto
        assert got["mode"] == "auto" and got["engineer_id"] == near
        assert got["work_order"]["status"] == "assigned"
        assert got["work_order"]["engineer_id"] == near
        assert got["score"] is not None and got["eta"] is not None
        assert any("skills ok" in r for r in got["reasons"])
        assert got["preempted_work_order_id"] is None
        assigned = [e for e in events(api, order["id"]) if e["to_status"] == "assigned"]
        assert "skills ok" in assigned[-1]["reason"] and assigned[-1]["details"]["score"]
    with stack.api(w.tokens[near]) as me:
        ok(move(me, order["id"], "rejected", reason="not my area"))
    with stack.api() as api:
        cands = ok(api.get(f"/api/v1/work-orders/{order['id']}/candidates"))
        flags = {c["engineer_id"]: c["rejected_before"] for c in cands["candidates"]}
        assert flags == {near: True, far: False}
        got = ok(assign(api, order["id"], {}))
        assert got["engineer_id"] == far  # the nearer one rejected it
    with stack.api(w.tokens[far]) as me:
        ok(move(me, order["id"], "rejected", reason="no time"))
    with stack.api() as api:
        err = assert_error(assign(api, order["id"], {"reason": "try again"}), 409)
        assert "2 excluded" in err["message"]
        back = get_order(api, order["id"])
        assert back["status"] == "new" and back["engineer_id"] is None
        got = ok(assign(api, order["id"], {"engineer_id": near, "reason": "customer asked"}))
        assert got["mode"] == "manual" and got["engineer_id"] == near
        assert "engineer rejected this order before" in got["reasons"]
        assert got["reasons"][0] == "assigned by hand: customer asked"


def test_assign_by_hand_with_warnings_and_every_error(stack: Stack) -> None:
    w, skill = skilled_world(stack, engineers=1)
    eng = w.engineers[0]
    with stack.api() as api:
        order = make_order(api, w, required_skills=[skill])
        err = assert_error(assign(api, order["id"], {"engineer_id": "eng-nobody"}), 422)
        assert "unknown engineer" in err["message"]
        plain, _ = make_engineer(api, lat=w.lat, lon=w.lon)  # hvac only
        err = assert_error(assign(api, order["id"], {"engineer_id": plain}), 409)
        assert skill in err["message"] and "lacks" in err["message"]
        for bad in ({"bogus": 1}, {"engineer_id": 5}, {"engineer_id": "bad id!"},
                    {"engineer_id": eng, "reason": "x" * 3000}, [1], "text"):
            assert_error(assign(api, order["id"], bad), 422)
        assert_error(api.post(f"/api/v1/work-orders/{order['id']}/assign", content=b"{",
                              headers={"content-type": "application/json"}), 422)
        for body in (None, {}, {"engineer_id": eng}):
            assert_error(assign(api, "WO-NOPE", body), 404)
        assert get_order(api, order["id"])["status"] == "new"  # nothing changed so far
        dispatcher = staff_token(api)
    with stack.api(dispatcher) as desk:
        got = ok(assign(desk, order["id"], {"engineer_id": eng}))  # offline: allowed by hand
    assert got["mode"] == "manual" and got["work_order"]["engineer_id"] == eng
    assert "engineer is offline" in got["reasons"] and got["eta"] is None
    with stack.api() as api:
        n_events = len(events(api, order["id"]))
        again = ok(assign(api, order["id"], {"engineer_id": eng}))  # already theirs
        assert again["work_order"]["status"] == "assigned"
        assert len(events(api, order["id"])) == n_events
        ok(move(api, order["id"], "cancelled", reason="duplicate"))
        err = assert_error(assign(api, order["id"]), 409)
        assert "cancelled" in err["message"]
        assert_error(assign(api, order["id"], {"engineer_id": eng}), 409)
        assert_error(api.get(f"/api/v1/work-orders/{order['id']}/candidates"), 409)
        nowhere = ok(api.post("/api/v1/work-orders", json={
            "title": "No site", "required_skills": [skill]}), 201)
        err = assert_error(assign(api, nowhere["id"]), 409)
        assert "no site" in err["message"]
        assert_error(api.get(f"/api/v1/work-orders/{nowhere['id']}/candidates"), 409)
        assert_error(api.get("/api/v1/work-orders/WO-NOPE/candidates"), 404)
        audit = ok(api.get("/api/v1/audit", params={"entity_id": order["id"], "limit": 50}))
        assert any(a["action"] == "assign" for a in audit["items"])


def test_candidates_are_ranked_with_reasons(stack: Stack) -> None:
    w, skill = skilled_world(stack, engineers=3)
    with stack.api() as api:
        order = make_order(api, w, required_skills=[skill], priority="P3")
        empty = ok(api.get(f"/api/v1/work-orders/{order['id']}/candidates"))
        assert empty["candidates"] == [] and "none is online" in empty["note"]
        set_online(api, *w.engineers)
        dispatcher = staff_token(api)
    with stack.api(dispatcher) as desk:
        got = ok(desk.get(f"/api/v1/work-orders/{order['id']}/candidates"))
    assert got["work_order_id"] == order["id"] and got["note"] is None
    ranked = got["candidates"]
    assert [c["engineer_id"] for c in ranked] == w.engineers  # nearest first
    assert [c["score"] for c in ranked] == sorted(c["score"] for c in ranked)
    for c in ranked:
        assert c["reasons"] and c["reasons"][0].startswith("skills ok")
        assert order["id"] in c["route"] and c["preempts"] is None
        assert datetime.fromisoformat(c["eta"]) > datetime.now(UTC) - timedelta(minutes=1)
        assert c["travel_s"] > 0 and not c["rejected_before"]


def _shift(now: datetime, minutes_left: int) -> dict[str, str]:
    end = now + timedelta(minutes=minutes_left)
    if end.date() != now.date():
        pytest.skip("too close to midnight (UTC) for a shift ending within the day")
    start = max(now - timedelta(hours=1), now.replace(hour=0, minute=0, second=0))
    return {"shift_start": start.strftime("%H:%M:%S"), "shift_end": end.strftime("%H:%M:%S")}


def test_p1_preempts_a_p4_not_yet_en_route_which_goes_back_to_dispatch(stack: Stack) -> None:
    w, skill = skilled_world(stack, engineers=1)
    eng = w.engineers[0]
    inbox: list[dict[str, Any]] = []
    phone = stack.mqtt_client()
    phone.on_message = lambda _c, _u, msg: inbox.append(json.loads(msg.payload))
    phone.subscribe(f"fieldflow/engineers/{eng}/inbox", qos=1)
    with stack.api() as api:
        # 70 minutes left: one 45-minute job fits, two do not.
        ok(api.patch(f"/api/v1/engineers/{eng}", json=_shift(datetime.now(UTC), 70)))
        p4 = make_order(api, w, required_skills=[skill], priority="P4")
        ok(assign(api, p4["id"], {"engineer_id": eng}))
        set_online(api, eng)
        p1 = make_order(api, w, required_skills=[skill], priority="P1")
        got = ok(assign(api, p1["id"]))
        assert got["engineer_id"] == eng
        if got["preempted_work_order_id"] is not None:  # else the retry round was first
            assert got["preempted_work_order_id"] == p4["id"]
            assert any(f"pre-empts P4 order {p4['id']}" in r for r in got["reasons"])
        bumped = get_order(api, p4["id"])
        assert bumped["status"] == "new" and bumped["engineer_id"] is None
        last = events(api, p4["id"])[-1]
        assert last["to_status"] == "rejected"
        assert f"pre-empted by P1 order {p1['id']}" in last["reason"]
        assert last["details"]["preempted_by"] == p1["id"]
        assert get_order(api, p1["id"])["engineer_id"] == eng
        withdrawn = {"type": "withdrawn", "work_order_id": p4["id"],
                     "reason": f"pre-empted by P1 order {p1['id']}"}
        try:  # the phone hears that the P4 is off its route
            wait_until(lambda: any({k: m.get(k) for k in withdrawn} == withdrawn
                                   for m in inbox), timeout_s=15)
        finally:
            phone.loop_stop()
            phone.disconnect()
        # A pre-emption is not a rejection: once there is room, the P4 goes back to them.
        ok(move(api, p1["id"], "cancelled", reason="fixed remotely"))
        again = ok(assign(api, p4["id"]))
        assert again["engineer_id"] == eng and again["preempted_work_order_id"] is None


ROUTES = [
    ("POST", "/api/v1/work-orders/{order}/assign", True),
    ("GET", "/api/v1/work-orders/{order}/candidates", True),
    ("POST", "/api/v1/dispatch/plan", True),
    ("GET", "/api/v1/engineers/{engineer}/route", False),
]


@pytest.mark.parametrize(("method", "path", "staff_only"), ROUTES)
def test_dispatch_routes_need_a_token_and_the_right_role(
        stack: Stack, method: str, path: str, staff_only: bool) -> None:
    w, skill = skilled_world(stack, engineers=1)
    eng = w.engineers[0]
    with stack.api() as api:
        order = make_order(api, w, required_skills=[skill])
        tracking = customer_token(api, order["id"])
    url = stack.api_url + path.format(order=order["id"], engineer=eng)
    body = {"work_order_ids": [order["id"]], "time_limit_s": 0.2} if "plan" in path else None
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        err = assert_error(httpx.request(method, url, headers=headers, json=body), 401)
        assert "token" in err["message"]
    as_engineer = httpx.request(method, url, json=body,
                                headers={"Authorization": f"Bearer {w.tokens[eng]}"})
    if staff_only:
        assert "may not" in assert_error(as_engineer, 403)["message"]
    else:
        ok(as_engineer)  # their own route
    assert_error(httpx.request(method, url, json=body,  # a tracking link opens only its page
                               headers={"Authorization": f"Bearer {tracking}"}), 401)
    with stack.api() as api:
        assert get_order(api, order["id"])["status"] == "new"  # nothing changed by refusals
