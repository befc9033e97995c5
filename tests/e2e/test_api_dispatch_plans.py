"""The day plan, engineers' routes, appointment windows and depot pickups (split from
test_api_dispatch.py, which keeps assignment, candidates, preemption and the roles)."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack, wait_until
from tests.e2e.test_api_dispatch import (
    assign,
    customer_token,
    events,
    get_order,
    set_online,
    skilled_world,
)
from tests.e2e.test_api_world import (
    assert_error,
    make_order,
    move,
    ok,
    uid,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("day_left")]  # today's shift


def _plan(api: httpx.Client, **body: Any) -> httpx.Response:
    return api.post("/api/v1/dispatch/plan", json=body)


def test_plan_tomorrow_dry_run_changes_nothing_and_apply_assigns_in_route_order(
        stack: Stack) -> None:
    w, skill = skilled_world(stack)  # offline now: tomorrow everyone is on the roster
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    with stack.api() as api:
        orders = [make_order(api, w, required_skills=[skill], priority=p)
                  for p in ("P1", "P2", "P4")]
        nobody = make_order(api, w, required_skills=[skill, uid("rare")], priority="P3")
        ids = [o["id"] for o in orders] + [nobody["id"]]
        dry = ok(_plan(api, date=tomorrow.isoformat(), work_order_ids=ids, time_limit_s=1))
        assert dry["applied"] is False and dry["assigned"] == [] and dry["apply_errors"] == []
        assert dry["date"] == tomorrow.isoformat() and set(dry["planned"]) == set(ids)
        routed = {s["work_order_id"]: r["engineer_id"] for r in dry["routes"]
                  for s in r["stops"]}
        assert set(routed) == {o["id"] for o in orders}
        assert set(routed.values()) <= set(w.engineers)
        for r in dry["routes"]:
            prev = None
            for s in r["stops"]:
                arrival, start, leave = (datetime.fromisoformat(s[k])
                                         for k in ("arrival", "start", "departure"))
                assert arrival <= start < leave and start.date() == tomorrow
                assert leave - start == timedelta(minutes=45) and s["held"] is False
                assert prev is None or prev <= arrival
                prev = leave
        assert dry["unassigned"] == [{"work_order_id": nobody["id"],
                                      "reason": dry["unassigned"][0]["reason"]}]
        assert "no engineer has skill" in dry["unassigned"][0]["reason"]
        for o in orders:
            assert get_order(api, o["id"])["status"] == "new"
        applied = ok(_plan(api, date=tomorrow.isoformat(), work_order_ids=ids,
                           time_limit_s=1, apply=True))
        assert applied["applied"] is True and applied["apply_errors"] == []
        done = {a["work_order_id"]: a["engineer_id"] for a in applied["assigned"]}
        assert set(done) == {o["id"] for o in orders}
        for r in applied["routes"]:
            stops = [s["work_order_id"] for s in r["stops"]]
            rows = [get_order(api, i) for i in stops]
            assert all(o["status"] == "assigned" and o["engineer_id"] == r["engineer_id"]
                       for o in rows)
            assert [o["assigned_at"] for o in rows] == sorted(o["assigned_at"] for o in rows)
            assert [o["route_seq"] for o in rows] == list(range(1, len(rows) + 1))
            route = ok(api.get(f"/api/v1/engineers/{r['engineer_id']}/route"))
            assert [s["work_order_id"] for s in route["stops"]] == stops
            assert "day plan" in events(api, stops[0])[-1]["reason"]
        assert get_order(api, nobody["id"])["status"] == "new"
        audit = ok(api.get("/api/v1/audit", params={"entity_id": tomorrow.isoformat()}))
        assert any(a["action"] == "plan" for a in audit["items"])


def test_plan_today_by_default_and_bad_requests(stack: Stack) -> None:
    w, skill = skilled_world(stack, engineers=1)
    eng = w.engineers[0]
    with stack.api() as api:
        set_online(api, eng)
        a = make_order(api, w, required_skills=[skill], priority="P2")
        b = make_order(api, w, required_skills=[skill], priority="P3")
        got = ok(_plan(api, work_order_ids=[a["id"], b["id"]], time_limit_s=0.5))
        assert got["date"] == datetime.now(UTC).date().isoformat()
        mine = next(r for r in got["routes"] if r["engineer_id"] == eng)
        assert {s["work_order_id"] for s in mine["stops"]} >= {a["id"], b["id"]}
        assert all(datetime.fromisoformat(s["start"]) > datetime.now(UTC) - timedelta(minutes=1)
                   for s in mine["stops"])
        rare = make_order(api, w, required_skills=[uid("rare")], priority="P1")
        default = ok(_plan(api, time_limit_s=1))  # every open unassigned order
        assert rare["id"] in default["planned"] and default["applied"] is False
        reasons = {u["work_order_id"]: u["reason"] for u in default["unassigned"]}
        assert "no engineer has skill" in reasons[rare["id"]]
        placed = {s["work_order_id"] for r in default["routes"] for s in r["stops"]}
        assert set(default["planned"]) <= placed | set(reasons)
        yesterday = (date.today() - timedelta(days=2)).isoformat()
        assert "past" in assert_error(_plan(api, date=yesterday), 422)["message"]
        err = assert_error(_plan(api, work_order_ids=[a["id"], "WO-NOPE"]), 404)
        assert "WO-NOPE" in err["message"]
        ok(move(api, rare["id"], "cancelled", reason="duplicate"))
        err = assert_error(_plan(api, work_order_ids=[rare["id"]]), 409)
        assert "cancelled" in err["message"]
        for bad in ({"time_limit_s": 0}, {"time_limit_s": 31}, {"work_order_ids": []},
                    {"work_order_ids": ["bad id!"]}, {"date": "not-a-date"}, {"bogus": True},
                    {"apply": "maybe"}):
            assert_error(api.post("/api/v1/dispatch/plan", json=bad), 422)
        assert_error(api.post("/api/v1/dispatch/plan"), 422)  # a body is required


def test_engineer_route_in_order_with_etas_and_who_may_read_it(stack: Stack) -> None:
    w, skill = skilled_world(stack)
    eng, other = w.engineers
    with stack.api() as api:
        o1, o2, o3 = (make_order(api, w, required_skills=[skill]) for _ in range(3))
        for o in (o2, o3, o1):  # assigned in this order, while offline: no auto-dispatch race
            ok(assign(api, o["id"], {"engineer_id": eng}))
        route = ok(api.get(f"/api/v1/engineers/{eng}/route"))
        assert [s["work_order_id"] for s in route["stops"]] == [o2["id"], o3["id"], o1["id"]]
        assert route["start_from"] == "home" and route["online"] is False
    stack.publish(f"fieldflow/engineers/{eng}/location", json.dumps({
        "ts": int(time.time() * 1000), "lat": w.lat + 0.005, "lon": w.lon, "acc": 5}))
    with stack.api() as api:
        wait_until(lambda: ok(api.get(f"/api/v1/engineers/{eng}"))["status"] == "online",
                   timeout_s=30)
    with stack.api(w.tokens[eng]) as me:
        ok(move(me, o1["id"], "accepted"))
        ok(move(me, o1["id"], "en_route"))
        route = ok(me.get(f"/api/v1/engineers/{eng}/route"))  # their own: allowed
    assert [s["work_order_id"] for s in route["stops"]] == [o1["id"], o2["id"], o3["id"]]
    assert route["start_from"] == "position" and route["online"] is True
    assert route["start_lat"] == pytest.approx(w.lat + 0.005)
    assert [s["sequence"] for s in route["stops"]] == [1, 2, 3]
    assert route["stops"][0]["status"] == "en_route"
    prev = datetime.fromisoformat(route["generated_at"]) - timedelta(seconds=1)
    for s in route["stops"]:
        arrival, eta, leave = (datetime.fromisoformat(s[k]) for k in ("arrival", "eta",
                                                                       "departure"))
        assert prev <= arrival <= eta < leave and leave - eta == timedelta(minutes=45)
        assert s["lat"] == w.lat and s["site_id"] == w.site and s["late"] is False
        prev = leave
    assert datetime.fromisoformat(route["back_home"]) >= prev
    with stack.api(w.tokens[other]) as them:
        assert_error(them.get(f"/api/v1/engineers/{eng}/route"), 403)
        own = ok(them.get(f"/api/v1/engineers/{other}/route"))
        assert own["stops"] == [] and own["start_from"] == "home"
    with stack.api() as api:
        assert_error(api.get("/api/v1/engineers/eng-nobody/route"), 404)
        ghost = uid("eng")  # no home base and no fix: orders listed, without times
        ok(api.post("/api/v1/engineers", json={"id": ghost, "name": "Ghost",
                                               "skills": [skill]}), 201)
        assert ok(api.get(f"/api/v1/engineers/{ghost}/route"))["stops"] == []
        o4 = make_order(api, w, required_skills=[skill])
        ok(assign(api, o4["id"], {"engineer_id": ghost}))
        got = ok(api.get(f"/api/v1/engineers/{ghost}/route"))
        assert got["start_from"] is None and got["back_home"] is None
        assert [(s["work_order_id"], s["eta"]) for s in got["stops"]] == [(o4["id"], None)]
        tracking = customer_token(api, o4["id"])
    with stack.api(tracking) as customer:  # a tracking link opens only its page
        assert_error(customer.get(f"/api/v1/engineers/{ghost}/route"), 401)


def _today_or_skip(*times: datetime) -> None:
    if any(t.date() != datetime.now(UTC).date() for t in times):
        pytest.skip("too close to midnight (UTC) for a window within today")


def _window(start: datetime, end: datetime) -> dict[str, str]:
    return {"window_start": start.isoformat(), "window_end": end.isoformat()}


def test_appointment_window_is_met_or_the_reason_says_why_not(stack: Stack) -> None:
    w, skill = skilled_world(stack, engineers=1)
    eng = w.engineers[0]
    now = datetime.now(UTC)
    start, end = now + timedelta(hours=2), now + timedelta(hours=3)
    _today_or_skip(start, end)
    with stack.api() as api:
        set_online(api, eng)
        order = make_order(api, w, required_skills=[skill], **_window(start, end))
        assert datetime.fromisoformat(order["window_start"]) == start
        assert datetime.fromisoformat(order["window_end"]) == end
        got = ok(assign(api, order["id"]))  # or the retry round was first: re-dispatched
        assert got["engineer_id"] == eng
        assert start <= datetime.fromisoformat(got["eta"]) <= end
        stop = ok(api.get(f"/api/v1/engineers/{eng}/route"))["stops"][0]
        assert stop["work_order_id"] == order["id"]
        assert start <= datetime.fromisoformat(stop["eta"]) <= end and not stop["late"]
        # A window already over, and one on a later day: nobody, and the reason says why.
        ended = make_order(api, w, required_skills=[skill],
                           **_window(now - timedelta(hours=2), now - timedelta(hours=1)))
        err = assert_error(assign(api, ended["id"]), 409)
        assert f"no engineer can take work order {ended['id']}" in err["message"]
        assert "its appointment window ended" in err["message"]
        note = ok(api.get(f"/api/v1/work-orders/{ended['id']}/candidates"))["note"]
        assert "appointment window ended" in note
        later = make_order(api, w, required_skills=[skill],
                           **_window(now + timedelta(days=2), now + timedelta(days=2, hours=1)))
        err = assert_error(assign(api, later["id"]), 409)
        assert "its appointment window starts on a later day" in err["message"]
        assert get_order(api, ended["id"])["status"] == "new"


def test_a_missing_part_is_collected_at_a_depot_that_stocks_it(stack: Stack) -> None:
    w, skill = skilled_world(stack, engineers=1)
    eng = w.engineers[0]
    part, depot = uid("part"), uid("depot")
    with stack.api() as api:
        ok(api.post("/api/v1/parts", json={"id": part, "name": "Rare valve"}), 201)
        set_online(api, eng)
        order = make_order(api, w, required_skills=[skill], required_parts={part: 1})
        err = assert_error(assign(api, order["id"]), 409)  # no van carries it, no depot
        assert "carries the parts" in err["message"]
        assert "no depot can supply them" in err["message"]
        ok(api.put(f"/api/v1/depots/{depot}",
                   json={"name": "North store", "lat": w.lat + 0.005, "lon": w.lon}))
        ok(api.put(f"/api/v1/depots/{depot}/stock/{part}", json={"qty": 0}))
        err = assert_error(assign(api, order["id"]), 409)  # a depot, but out of stock
        assert "no depot can supply them" in err["message"]
        stock = ok(api.put(f"/api/v1/depots/{depot}/stock/{part}", json={"qty": 2}))
        assert [(s["part_id"], s["qty"]) for s in stock] == [(part, 2)]
        ranked = ok(api.get(f"/api/v1/work-orders/{order['id']}/candidates"))["candidates"]
        assert [(c["engineer_id"], c["depot_id"]) for c in ranked] == [(eng, depot)]
        got = ok(assign(api, order["id"]))
        assert got["engineer_id"] == eng
        assert f"collects parts at {depot} first" in got["reasons"]
        assigned = [e for e in events(api, order["id"]) if e["to_status"] == "assigned"]
        assert assigned[-1]["details"]["depot_id"] == depot


def test_route_follows_the_order_dispatch_chose(stack: Stack) -> None:
    w, skill = skilled_world(stack, engineers=1)
    eng = w.engineers[0]
    now = datetime.now(UTC)
    _today_or_skip(now + timedelta(hours=2))
    with stack.api() as api:
        held = make_order(api, w, required_skills=[skill], priority="P3")
        ok(assign(api, held["id"], {"engineer_id": eng}))  # offline: by hand, no race
        assert get_order(api, held["id"])["route_seq"] == 1
        set_online(api, eng)
        # Due within 30 minutes: it must go before the 45-minute job already held.
        urgent = make_order(api, w, required_skills=[skill], priority="P2",
                            **_window(now, now + timedelta(minutes=30)))
        got = ok(assign(api, urgent["id"]))
        assert got["engineer_id"] == eng and got["work_order"]["route_seq"] == 1
        assert get_order(api, held["id"])["route_seq"] == 2
        ok(api.patch(f"/api/v1/engineers/{eng}", json={"status": "offline"}))  # no more races
        extra = make_order(api, w, required_skills=[skill], priority="P4")
        by_hand = ok(assign(api, extra["id"], {"engineer_id": eng}))
        assert by_hand["work_order"]["route_seq"] == 3  # by hand: at the end
        later = make_order(api, w, required_skills=[skill], **_window(
            now + timedelta(days=2), now + timedelta(days=2, hours=1)))
        ok(assign(api, later["id"], {"engineer_id": eng}))
        route = ok(api.get(f"/api/v1/engineers/{eng}/route"))
    stops = route["stops"]
    assert [s["work_order_id"] for s in stops] == [urgent["id"], held["id"], extra["id"],
                                                   later["id"]]
    assert [s["sequence"] for s in stops] == [1, 2, 3, 4]
    assert datetime.fromisoformat(stops[0]["eta"]) <= now + timedelta(minutes=30)
    assert all(s["eta"] is not None for s in stops[:3])
    assert stops[3]["eta"] is None and stops[3]["arrival"] is None  # booked for a later day


def test_windows_lunch_breaks_and_depots_are_validated(stack: Stack) -> None:
    w, _ = skilled_world(stack, engineers=1)
    eng = w.engineers[0]
    start = datetime.now(UTC) + timedelta(hours=1)
    body = {"title": "Chiller", "site_id": w.site}
    with stack.api() as api:
        for end in (start, start - timedelta(minutes=5)):
            err = assert_error(api.post("/api/v1/work-orders",
                                        json={**body, **_window(start, end)}), 422)
            assert "window_end must be after window_start" in err["details"][0]["msg"]
        assert_error(api.post("/api/v1/work-orders", json={
            **body, "window_start": "2026-01-01T10:00:00"}), 422)  # no timezone
        lunch = {"lunch_earliest": "12:00:00", "lunch_latest": "13:30:00", "lunch_minutes": 30}
        for partial in ({"lunch_minutes": 30}, {"lunch_earliest": "12:00", "lunch_latest": "13:00"},
                        {**lunch, "lunch_minutes": None}):
            err = assert_error(api.patch(f"/api/v1/engineers/{eng}", json=partial), 422)
            assert "together" in err["details"][0]["msg"]
            assert_error(api.post("/api/v1/engineers", json={
                "id": uid("eng"), "name": "E", **partial}), 422)
        assert_error(api.patch(f"/api/v1/engineers/{eng}", json={**lunch, "lunch_minutes": 0}),
                     422)
        made = ok(api.post("/api/v1/engineers", json={"id": uid("eng"), "name": "E", **lunch}),
                  201)
        assert {k: made[k] for k in lunch} == lunch
        got = ok(api.patch(f"/api/v1/engineers/{eng}", json=lunch))
        assert {k: got[k] for k in lunch} == lunch
        kept = ok(api.patch(f"/api/v1/engineers/{eng}", json={"name": "Renamed"}))
        assert {k: kept[k] for k in lunch} == lunch
        cleared = ok(api.patch(f"/api/v1/engineers/{eng}", json=dict.fromkeys(lunch)))
        assert all(cleared[k] is None for k in lunch)
        depot = uid("depot")
        bads: list[dict[str, Any]] = [
            {"name": "x", "lat": 91, "lon": 0}, {"name": "x", "lat": 0},
            {"name": "", "lat": 0, "lon": 0}, {"name": "x", "lat": 0, "lon": 0, "y": 1}]
        for bad in bads:
            assert_error(api.put(f"/api/v1/depots/{depot}", json=bad), 422)
        assert_error(api.put("/api/v1/depots/bad id!", json={"name": "x", "lat": 0, "lon": 0}),
                     422)
        assert_error(api.get(f"/api/v1/depots/{depot}"), 404)
        assert_error(api.get(f"/api/v1/depots/{depot}/stock"), 404)
        assert_error(api.put(f"/api/v1/depots/{depot}/stock/{w.part}", json={"qty": 1}), 404)
        made = ok(api.put(f"/api/v1/depots/{depot}", json={"name": "A", "lat": 51.5, "lon": 0}))
        assert made == {"id": depot, "name": "A", "lat": 51.5, "lon": 0}
        moved = ok(api.put(f"/api/v1/depots/{depot}", json={"name": "B", "lat": 51.6, "lon": 0.1}))
        assert moved == {"id": depot, "name": "B", "lat": 51.6, "lon": 0.1}
        assert ok(api.get(f"/api/v1/depots/{depot}")) == moved
        assert ok(api.get(f"/api/v1/depots/{depot}/stock")) == []
        for qty in (-1, "x", None):
            assert_error(api.put(f"/api/v1/depots/{depot}/stock/{w.part}", json={"qty": qty}),
                         422)
        err = assert_error(api.put(f"/api/v1/depots/{depot}/stock/nopart", json={"qty": 1}), 422)
        assert "unknown reference" in err["message"]
        listed = ok(api.get("/api/v1/depots", params={"limit": 500}))
        assert depot in {d["id"] for d in listed["items"]}
        audit = ok(api.get("/api/v1/audit", params={"entity_id": depot}))
        assert [a["action"] for a in audit["items"]] == ["update", "create"]  # newest first


def test_a_depot_pickup_reserves_the_parts_until_collected_at_check_in(stack: Stack) -> None:
    w, skill = skilled_world(stack, engineers=1)
    eng = w.engineers[0]
    part, depot = uid("part"), uid("depot")
    with stack.api() as api:
        ok(api.post("/api/v1/parts", json={"id": part, "name": "Rare valve"}), 201)
        ok(api.put(f"/api/v1/depots/{depot}",
                   json={"name": "North store", "lat": w.lat + 0.005, "lon": w.lon}))
        ok(api.put(f"/api/v1/depots/{depot}/stock/{part}", json={"qty": 1}))
        inbox: list[dict[str, Any]] = []
        client = stack.mqtt_client()
        client.on_message = lambda _c, _u, msg: inbox.append(json.loads(msg.payload))
        client.subscribe(f"fieldflow/engineers/{eng}/inbox", qos=1)
        time.sleep(0.5)
        set_online(api, eng)
        first, second = (make_order(api, w, required_skills=[skill], required_parts={part: 1})
                         for _ in range(2))
        got = ok(assign(api, first["id"]))
        assert got["engineer_id"] == eng
        try:  # the phone is told where to collect the part
            wait_until(lambda: any(m.get("work_order_id") == first["id"] for m in inbox),
                       timeout_s=15)
        finally:
            client.loop_stop()
            client.disconnect()
        told = [m for m in inbox if m.get("work_order_id") == first["id"]][-1]
        assert told["pickup"]["depot_id"] == depot and told["pickup"]["parts"] == {part: 1}
        assert told["pickup"]["lat"] == w.lat + 0.005
        booked = get_order(api, first["id"])
        assert (booked["pickup_depot_id"], booked["pickup_parts"]) == (depot, {part: 1})
        [line] = ok(api.get(f"/api/v1/depots/{depot}/stock"))
        assert (line["qty"], line["reserved"]) == (1, 1)
        # The last unit is spoken for: the second order finds no depot.
        err = assert_error(assign(api, second["id"]), 409)
        assert "no depot can supply them" in err["message"]
        # The route shows the pickup right before the order it serves.
        stops = ok(api.get(f"/api/v1/engineers/{eng}/route"))["stops"]
        assert [(s["kind"], s["work_order_id"]) for s in stops] == [
            ("pickup", first["id"]), ("visit", first["id"])]
        assert (stops[0]["depot_id"], stops[0]["parts"]) == (depot, {part: 1})
        assert stops[0]["eta"] <= stops[1]["eta"]
        # Check-in: the part moves from the depot to the van; the booking is cleared.
        ok(move(api, first["id"], "accepted"))
        ok(move(api, first["id"], "en_route"))
        ok(move(api, first["id"], "on_site", reason="phone check-in"))
        done = get_order(api, first["id"])
        assert (done["pickup_depot_id"], done["pickup_parts"]) == (depot, None)
        [line] = ok(api.get(f"/api/v1/depots/{depot}/stock"))
        assert (line["qty"], line["reserved"]) == (0, 0)
        van = {s["part_id"]: s["qty"] for s in ok(api.get(f"/api/v1/engineers/{eng}/van-stock"))}
        assert van[part] == 1
        on_site = [e for e in events(api, first["id"]) if e["to_status"] == "on_site"]
        assert on_site[-1]["details"]["collected"] == {"depot_id": depot, "parts": {part: 1}}
        ok(move(api, first["id"], "in_progress"))
        ok(api.post(f"/api/v1/work-orders/{first['id']}/parts",
                    json={"part_id": part, "qty": 1}), 201)
        # Restocked: the second order books it; a rejection releases it again.
        ok(api.put(f"/api/v1/depots/{depot}/stock/{part}", json={"qty": 1}))
        if get_order(api, second["id"])["engineer_id"] is None:  # else the retry round did
            ok(assign(api, second["id"]))
        assert get_order(api, second["id"])["pickup_parts"] == {part: 1}
        ok(move(api, second["id"], "rejected", reason="van broke down"))
        released = get_order(api, second["id"])
        assert (released["pickup_depot_id"], released["pickup_parts"]) == (None, None)
        [line] = ok(api.get(f"/api/v1/depots/{depot}/stock"))
        assert (line["qty"], line["reserved"]) == (1, 0)


def test_a_day_plan_detours_through_a_depot_and_books_the_pickup(stack: Stack) -> None:
    w, skill = skilled_world(stack, engineers=1)  # offline now: tomorrow they are on
    eng = w.engineers[0]
    part, depot = uid("part"), uid("depot")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    with stack.api() as api:
        ok(api.post("/api/v1/parts", json={"id": part, "name": "Rare valve"}), 201)
        order = make_order(api, w, required_skills=[skill], required_parts={part: 1})
        dry = ok(_plan(api, date=tomorrow, work_order_ids=[order["id"]], time_limit_s=1))
        assert dry["routes"] == []
        assert "no depot holds them" in dry["unassigned"][0]["reason"]
        ok(api.put(f"/api/v1/depots/{depot}",
                   json={"name": "North store", "lat": w.lat + 0.005, "lon": w.lon}))
        ok(api.put(f"/api/v1/depots/{depot}/stock/{part}", json={"qty": 1}))
        done = ok(_plan(api, date=tomorrow, work_order_ids=[order["id"]], time_limit_s=1,
                        apply=True))
        assert done["apply_errors"] == [] and done["unassigned"] == []
        [route] = done["routes"]
        assert [(s["kind"], s["work_order_id"], s["depot_id"]) for s in route["stops"]] == [
            ("pickup", order["id"], depot), ("visit", order["id"], None)]
        first, then = route["stops"]
        assert first["departure"] <= then["arrival"]
        assert done["assigned"] == [{"work_order_id": order["id"], "engineer_id": eng,
                                     "message": None}]
        got = get_order(api, order["id"])
        assert (got["pickup_depot_id"], got["pickup_parts"]) == (depot, {part: 1})
        assert got["route_seq"] == 1
        assert "collecting parts at" in events(api, order["id"])[-1]["reason"]
        [line] = ok(api.get(f"/api/v1/depots/{depot}/stock"))
        assert line["reserved"] == 1
