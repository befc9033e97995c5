"""Issue #22: roles stay in their scope (two customers, two engineers).

The session stack runs with FIELDFLOW_CUSTOMER_OPEN_REQUESTS_MAX=5 (tests/e2e/conftest.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.seed import query
from tests.e2e.test_api_world import World, assert_error, make_world, move, ok, uid

pytestmark = pytest.mark.e2e
OPEN_MAX = 5


def _customer_token(api: httpx.Client, customer: str) -> str:
    user = uid("cust-user")
    ok(api.post("/api/v1/users", json={"id": user, "name": "C", "role": "customer",
                                       "customer_id": customer}), 201)
    return str(ok(api.post(f"/api/v1/users/{user}/tokens", json={}), 201)["token"])


def _request(c: httpx.Client, w: World, **extra: Any) -> httpx.Response:
    return c.post("/api/v1/work-orders", json={"title": "Lift stuck", "site_id": w.site,
                                               **extra})


@pytest.fixture
def two_customers(stack: Stack) -> tuple[World, World, str, str]:
    a, b = make_world(stack, engineers=1), make_world(stack, engineers=1)
    with stack.api() as api:
        return a, b, _customer_token(api, a.customer), _customer_token(api, b.customer)


def test_idempotency_keys_are_per_requester(stack: Stack, two_customers: Any) -> None:
    a, b, ta, tb = two_customers
    key = uid("key")
    with stack.api(ta) as ca, stack.api(tb) as cb:
        first = ok(_request(ca, a, idempotency_key=key), 201)
        # B reusing A's key gets its own new order, never A's.
        theirs = ok(_request(cb, b, idempotency_key=key), 201)
        assert theirs["id"] != first["id"] and theirs["customer_id"] == b.customer
        assert_error(cb.get(f"/api/v1/work-orders/{first['id']}"), 404)
        # A retrying gets its first order back.
        again = ok(_request(ca, a, idempotency_key=key), 201)
        assert again["id"] == first["id"]


def test_customers_cannot_choose_priority_sla_or_engineer(stack: Stack,
                                                          two_customers: Any) -> None:
    a, _b, ta, _tb = two_customers
    due = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    with stack.api(ta) as c:
        for extra in ({"priority": "P1"}, {"sla_due": due}):
            err = assert_error(_request(c, a, **extra), 403)
            assert "policy decides" in err["message"]
        assert_error(_request(c, a, engineer_id=a.engineers[0]), 422)  # not a field
        made = ok(_request(c, a), 201)
        assert made["priority"] == "P3" and made["engineer_id"] is None
        assert made["sla_due"] is not None  # from the customer's SLA tier
        assert_error(move(c, made["id"], "assigned", engineer_id=a.engineers[0]), 403)


def test_customers_name_only_their_own_assets(stack: Stack, two_customers: Any) -> None:
    a, b, ta, _tb = two_customers
    with stack.api(ta) as c:
        err = assert_error(_request(c, a, asset_id=b.asset), 403)
        assert "not one of yours" in err["message"]
        assert_error(c.post("/api/v1/work-orders", json={"title": "x", "asset_id": b.asset}),
                     403)
        assert_error(_request(c, a, asset_id="no-such-asset"), 403)
        assert ok(_request(c, a, asset_id=a.asset), 201)["asset_id"] == a.asset


def test_open_requests_per_customer_are_limited(stack: Stack, two_customers: Any) -> None:
    a, b, ta, tb = two_customers
    with stack.api(ta) as ca, stack.api(tb) as cb, stack.api() as staff:
        made = [ok(_request(ca, a, idempotency_key=f"k{i}"), 201) for i in range(OPEN_MAX)]
        err = assert_error(_request(ca, a), 409)
        assert "open requests" in err["message"]
        assert ok(_request(ca, a, idempotency_key="k0"), 201)["id"] == made[0]["id"]  # retry
        ok(_request(cb, b), 201)  # the other customer is not affected
        ok(_request(staff, a), 201)  # nor are dispatchers
        ok(move(staff, made[0]["id"], "cancelled", reason="duplicate"))
        ok(_request(ca, a), 201)


def _assigned_en_route(stack: Stack, w: World, engineer: str) -> tuple[dict[str, Any], str]:
    token = w.tokens[engineer]
    with stack.api() as api:
        order = ok(api.post("/api/v1/work-orders", json={"title": "Fix", "site_id": w.site}),
                   201)
        ok(move(api, order["id"], "assigned", engineer_id=engineer))
    with stack.api(token) as me:
        ok(move(me, order["id"], "accepted"))
        ok(move(me, order["id"], "en_route"))
    return order, token


def test_a_reported_arrival_counts_only_when_the_geofence_saw_it(stack: Stack) -> None:
    w = make_world(stack, engineers=2)
    e1, e2 = w.engineers
    # Engineer 1: no geofence check-in. A past time is not believed: the receive time
    # counts and the order is flagged; a time before the assignment is refused.
    order, token = _assigned_en_route(stack, w, e1)
    with stack.api(token) as me:
        long_ago = int((time.time() - 86_400) * 1000)
        err = assert_error(move(me, order["id"], "on_site", ts=long_ago, reason="x"), 422)
        assert "before the order was assigned" in err["message"]
        before = datetime.now(UTC)
        moved = ok(move(me, order["id"], "on_site", ts=int(time.time() * 1000),
                        reason="GPS lost in the basement"))
    assert moved["arrival_unverified"] is True
    checkin = datetime.fromisoformat(moved["checkin_at"])
    assert checkin >= before - timedelta(seconds=1)
    # Engineer 2: the geofence saw them enter 60 s before the reported time.
    order2, token2 = _assigned_en_route(stack, w, e2)
    arrived = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=1)
    query(stack.database_url,  # a check-in the streams made while the order stayed en_route
          "INSERT INTO geofence_events (event_key, engineer_id, site_id, work_order_id, kind,"
          " ts) VALUES (%s, %s, %s, %s, 'enter', %s)",
          (uid("gf"), e2, w.site, order2["id"], arrived - timedelta(seconds=60)))
    with stack.api(token2) as me:
        moved2 = ok(move(me, order2["id"], "on_site", ts=int(arrived.timestamp() * 1000),
                         reason="synced after a dead zone"))
    assert moved2["arrival_unverified"] is False
    assert datetime.fromisoformat(moved2["checkin_at"]) == arrived
    # Engineer 1 cannot report for engineer 2's order.
    with stack.api(token) as me:
        assert move(me, order2["id"], "in_progress").status_code in (403, 404)
