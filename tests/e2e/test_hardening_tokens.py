"""Issue #22: tokens with a life (revoke, list, disable a user, default expiry, tracking
links that open only their page and die after their order closes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.conftest import Stack
from tests.e2e.seed import query
from tests.e2e.test_api_live import ws_connect
from tests.e2e.test_api_world import assert_error, make_order, make_world, move, ok, uid

pytestmark = pytest.mark.e2e


def _user(api, role: str = "dispatcher") -> str:  # type: ignore[no-untyped-def]
    user = uid(role)
    ok(api.post("/api/v1/users", json={"id": user, "name": role, "role": role}), 201)
    return user


def test_a_revoked_token_gets_401_and_its_websocket_is_closed(stack: Stack) -> None:
    with stack.api() as api:
        user = _user(api)
        made = ok(api.post(f"/api/v1/users/{user}/tokens", json={"name": "laptop"}), 201)
    token = made["token"]
    with stack.api(token) as d, ws_connect(stack, token) as feed:
        assert feed.recv(timeout=10)  # the snapshot: the feed is open
        ok(d.get("/api/v1/parts"))
        with stack.api() as api:
            revoked = ok(api.delete(f"/api/v1/tokens/{made['id']}"))
            assert revoked["revoked"] and revoked["revoked_at"]
            assert_error(api.delete("/api/v1/tokens/999999999"), 404)
        assert_error(d.get("/api/v1/parts"), 401)
        with pytest.raises(ConnectionClosed) as closed:
            while True:  # position and order messages may come first
                feed.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_tokens_are_listed_expire_by_default_and_stop_with_their_user(stack: Stack) -> None:
    with stack.api() as api:
        user = _user(api)
        first = ok(api.post(f"/api/v1/users/{user}/tokens", json={}), 201)
        second = ok(api.post(f"/api/v1/users/{user}/tokens",
                             json={"expires_in_days": 2, "name": "ci"}), 201)
        listed = ok(api.get(f"/api/v1/users/{user}/tokens"))
        assert [t["id"] for t in listed] == [second["id"], first["id"]]
        assert all("token" not in t and "token_hash" not in t for t in listed)
        expires = datetime.fromisoformat(first["expires_at"])
        assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
        assert listed[0]["name"] == "ci"
        assert_error(api.get("/api/v1/users/nobody-here/tokens"), 404)
        ok(api.post(f"/api/v1/users/{user}/disable"))
        for made in (first, second):
            with stack.api(made["token"]) as d:
                assert_error(d.get("/api/v1/parts"), 401)
        assert_error(api.post(f"/api/v1/users/{user}/tokens", json={}), 409)
        assert_error(api.post("/api/v1/users/admin/disable"), 409)  # not yourself
        ok(api.post(f"/api/v1/users/{user}/enable"))
        with stack.api(first["token"]) as d:
            ok(d.get("/api/v1/parts"))


def test_tracking_links_open_only_their_page_and_die_after_the_order_closes(
    stack: Stack,
) -> None:
    w = make_world(stack, engineers=1)
    with stack.api() as api:
        order = make_order(api, w)
        link = ok(api.post(f"/api/v1/work-orders/{order['id']}/tracking-token", json={}), 201)
    token = link["token"]
    with stack.api(token) as c:
        err = assert_error(c.get(f"/api/v1/work-orders/{order['id']}"), 401)
        assert "tracking page" in err["message"]
        assert_error(c.get(f"/api/v1/work-orders/{order['id']}/events"), 401)
        assert ok(c.get(f"/track/{token}/status"))["work_order_id"] == order["id"]
    with stack.api() as api:
        ok(move(api, order["id"], "cancelled", reason="customer called"))
    with stack.api(token) as c:
        ok(c.get(f"/track/{token}/status"))  # still readable just after it closed
        query(stack.database_url, "UPDATE work_orders SET updated_at = now() - interval "
              "'8 days' WHERE id = %s", (order["id"],))
        assert_error(c.get(f"/track/{token}/status"), 404)
