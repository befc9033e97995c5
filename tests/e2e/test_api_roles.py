"""Authentication and roles: 401 without a valid token, 403 for the wrong role, and
engineers and customers confined to their own orders."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.test_api_world import assert_error, make_order, make_world, move, ok, uid

pytestmark = pytest.mark.e2e

# One representative call per route (method, path template).
ROUTES = [
    ("GET", "/api/v1/customers"), ("POST", "/api/v1/customers"),
    ("GET", "/api/v1/sites"), ("GET", "/api/v1/assets"), ("GET", "/api/v1/asset-models"),
    ("GET", "/api/v1/engineers"), ("GET", "/api/v1/parts"), ("GET", "/api/v1/work-orders"),
    ("POST", "/api/v1/work-orders"), ("GET", "/api/v1/alerts"),
    ("GET", "/api/v1/geofence-events"), ("GET", "/api/v1/kpis"), ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"), ("GET", "/api/v1/audit"), ("GET", "/api/v1/webhooks"),
    ("GET", "/api/v1/engineers/e1/position"), ("GET", "/api/v1/work-orders/WO-1/events"),
    ("GET", "/api/v1/depots"), ("GET", "/api/v1/depots/d1"), ("PUT", "/api/v1/depots/d1"),
    ("GET", "/api/v1/depots/d1/stock"), ("PUT", "/api/v1/depots/d1/stock/p1"),
    ("PATCH", "/api/v1/work-orders/WO-1"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_needs_a_valid_token(stack: Stack, method: str, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}):
        resp = httpx.request(method, stack.api_url + path, headers=headers, json={})
        err = assert_error(resp, 401)
        assert "token" in err["message"]
        assert resp.headers["www-authenticate"] == "Bearer"


def test_open_routes(stack: Stack) -> None:
    assert httpx.get(f"{stack.api_url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{stack.api_url}/").status_code == 200
    assert httpx.get(f"{stack.api_url}/openapi.json").status_code == 200


def _token(api: httpx.Client, role: str, **extra: str) -> str:
    user = uid(role)
    ok(api.post("/api/v1/users", json={"id": user, "name": role, "role": role, **extra}), 201)
    return str(ok(api.post(f"/api/v1/users/{user}/tokens", json={}), 201)["token"])


def test_device_token_has_no_rest(stack: Stack) -> None:
    with stack.api() as api:
        device = _token(api, "device")
    with stack.api(device) as dev:
        for method, path in ROUTES:
            assert_error(dev.request(method, path, json={}), 403)


def test_dispatcher_runs_operations_but_not_users_or_webhooks(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    with stack.api() as api:
        disp = _token(api, "dispatcher")
    with stack.api(disp) as d:
        order = make_order(d, w)
        ok(move(d, order["id"], "assigned", engineer_id=w.engineers[0]))
        ok(d.get("/api/v1/kpis"))
        ok(d.get(f"/api/v1/engineers/{w.engineers[0]}"))
        assert_error(d.post("/api/v1/users", json={"id": uid("u"), "name": "x",
                                                   "role": "admin"}), 403)
        assert_error(d.get("/api/v1/users"), 403)
        assert_error(d.get("/api/v1/webhooks"), 403)
        assert_error(d.get("/api/v1/audit"), 403)


def test_engineer_sees_only_own_orders_and_position(stack: Stack) -> None:
    w = make_world(stack, engineers=2)
    a, b = w.engineers
    with stack.api() as api:
        mine = make_order(api, w)
        theirs = make_order(api, w)
        ok(move(api, mine["id"], "assigned", engineer_id=a))
        ok(move(api, theirs["id"], "assigned", engineer_id=b))
    with stack.api(w.tokens[a]) as me:
        listed = ok(me.get("/api/v1/work-orders", params={"limit": 500}))
        assert [o["id"] for o in listed["items"]] == [mine["id"]]
        assert ok(me.get("/api/v1/work-orders", params={"engineer_id": b}))["total"] == 0
        for path in ("", "/events", "/checklist", "/eta", "/parts"):
            assert_error(me.get(f"/api/v1/work-orders/{theirs['id']}{path}"), 404)
        assert_error(move(me, theirs["id"], "accepted"), 404)
        assert_error(me.put(f"/api/v1/work-orders/{theirs['id']}/checklist",
                            json={"answers": {"diagnosis": True}}), 404)
        assert_error(me.post(f"/api/v1/work-orders/{theirs['id']}/parts",
                             json={"part_id": w.part}), 404)
        assert ok(me.get(f"/api/v1/work-orders/{mine['id']}"))["engineer_id"] == a
        # Own order, but not every move is the engineer's to make.
        assert_error(move(me, mine["id"], "cancelled", reason="bored"), 403)
        assert_error(move(me, mine["id"], "assigned", engineer_id=b), 403)
        assert_error(me.post(f"/api/v1/work-orders/{mine['id']}/parts",
                             json={"part_id": w.part, "engineer_id": b}), 403)
        # Own record and position only.
        assert ok(me.get(f"/api/v1/engineers/{a}"))["id"] == a
        assert [e["id"] for e in ok(me.get("/api/v1/engineers"))["items"]] == [a]
        assert_error(me.get(f"/api/v1/engineers/{b}"), 403)
        assert_error(me.get(f"/api/v1/engineers/{b}/position"), 403)
        assert_error(me.get(f"/api/v1/engineers/{b}/van-stock"), 403)
        assert_error(me.get(f"/api/v1/engineers/{a}/position"), 404)  # none published yet
        ok(me.get("/api/v1/parts"))
        for method, path in (("GET", "/api/v1/customers"), ("GET", "/api/v1/sites"),
                             ("GET", "/api/v1/alerts"), ("GET", "/api/v1/kpis"),
                             ("POST", "/api/v1/work-orders"), ("GET", "/api/v1/audit"),
                             ("POST", f"/api/v1/work-orders/{mine['id']}/tracking-token"),
                             ("PUT", f"/api/v1/engineers/{a}/van-stock/{w.part}")):
            assert_error(me.request(method, path, json={}), 403)


def test_customer_user_sees_own_customer_and_raises_requests(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    other = make_world(stack, engineers=0)
    with stack.api() as api:
        cust = _token(api, "customer", customer_id=w.customer)
        foreign = make_order(api, other)
    with stack.api(cust) as c:
        req = ok(c.post("/api/v1/work-orders", json={"title": "Lift stuck",
                                                    "site_id": w.site}), 201)
        assert req["customer_id"] == w.customer
        assert_error(c.post("/api/v1/work-orders", json={"title": "x",
                                                         "customer_id": other.customer}), 403)
        assert_error(c.post("/api/v1/work-orders", json={"title": "x", "site_id": other.site}),
                     422)
        assert [o["id"] for o in ok(c.get("/api/v1/work-orders"))["items"]] == [req["id"]]
        assert_error(c.get(f"/api/v1/work-orders/{foreign['id']}"), 404)
        assert_error(move(c, req["id"], "cancelled", reason="x"), 403)
        assert_error(c.get(f"/api/v1/engineers/{w.engineers[0]}"), 403)


def test_depots_are_kept_by_staff_and_read_by_engineers(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    depot = uid("depot")
    body = {"name": "North store", "lat": w.lat, "lon": w.lon}
    with stack.api() as api:
        disp = _token(api, "dispatcher")
        cust = _token(api, "customer", customer_id=w.customer)
        tracking = str(ok(api.post(f"/api/v1/work-orders/{make_order(api, w)['id']}"
                                   "/tracking-token", json={}), 201)["token"])
    with stack.api(disp) as d:
        ok(d.put(f"/api/v1/depots/{depot}", json=body))
        ok(d.put(f"/api/v1/depots/{depot}/stock/{w.part}", json={"qty": 4}))
    with stack.api(w.tokens[w.engineers[0]]) as me:
        assert depot in {x["id"] for x in ok(me.get("/api/v1/depots", params={"limit": 500}))[
            "items"]}
        assert ok(me.get(f"/api/v1/depots/{depot}"))["name"] == "North store"
        assert [s["qty"] for s in ok(me.get(f"/api/v1/depots/{depot}/stock"))] == [4]
        for path, payload in ((f"/api/v1/depots/{depot}", body),
                              (f"/api/v1/depots/{depot}/stock/{w.part}", {"qty": 0})):
            assert "may not" in assert_error(me.put(path, json=payload), 403)["message"]
    # A tracking link opens only its tracking page: 401 on the whole REST API.
    for token, refused in ((cust, 403), (tracking, 401)):
        with stack.api(token) as c:
            for path in ("/api/v1/depots", f"/api/v1/depots/{depot}",
                         f"/api/v1/depots/{depot}/stock"):
                assert_error(c.get(path), refused)
            assert_error(c.put(f"/api/v1/depots/{depot}", json=body), refused)
    with stack.api() as api:
        assert [s["qty"] for s in ok(api.get(f"/api/v1/depots/{depot}/stock"))] == [4]


def test_expired_and_revoked_tokens_are_refused(stack: Stack) -> None:
    from tests.e2e.seed import query

    with stack.api() as api:
        token = _token(api, "dispatcher")
    with stack.api(token) as d:
        ok(d.get("/api/v1/parts"))
    from store.tokens import hash_token

    query(stack.database_url, "UPDATE api_tokens SET expires_at = now() - interval '1 s'"
          " WHERE token_hash = %s", (hash_token(token),))
    with stack.api(token) as d:
        assert_error(d.get("/api/v1/parts"), 401)
