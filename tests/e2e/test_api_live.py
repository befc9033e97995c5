"""The live websocket feed and webhooks, against the real stack."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from services.webhooks import verify
from tests.e2e.conftest import Stack, wait_until
from tests.e2e.test_api_world import assert_error, make_order, make_world, move, ok

pytestmark = pytest.mark.e2e


def ws_url(stack: Stack, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items() if k != "token")
    return stack.api_url.replace("http://", "ws://") + "/ws/live?" + query


def ws_connect(stack: Stack, token: str | None = None, **params: str) -> ClientConnection:
    """The dashboard's way in: the token as a subprotocol, never in the URL."""
    protocols = ["fieldflow.v1", f"bearer.{token}"] if token else None
    return connect(ws_url(stack, **params), subprotocols=protocols)  # type: ignore[arg-type]


def receive_until(ws: ClientConnection, pred: Any, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            msg = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            break
        if pred(msg):
            return msg  # type: ignore[no-any-return]
    raise AssertionError("expected message never came")


def close_code(url: str) -> int | None:
    with connect(url) as ws:
        return _close_code(ws)


def feed_close_code(stack: Stack, token: str | None = None, **params: str) -> int | None:
    with ws_connect(stack, token, **params) as ws:
        return _close_code(ws)


def _close_code(ws: ClientConnection) -> int | None:
    try:
        ws.recv(timeout=5)
    except ConnectionClosed as exc:
        return exc.rcvd.code if exc.rcvd else None
    return None


def test_live_feed_rejects_bad_tokens_and_roles(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    assert feed_close_code(stack) == 4401
    assert feed_close_code(stack, "wrong") == 4401
    assert feed_close_code(stack, w.tokens[w.engineers[0]]) == 4403
    assert feed_close_code(stack, stack.admin_token, bbox="1,2,3") == 4422
    # A token in the URL is not read (URLs end up in access logs).
    with connect(ws_url(stack) + f"token={stack.admin_token}") as ws, \
            pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401


def test_live_feed_snapshot_then_positions_and_order_changes(stack: Stack) -> None:
    w = make_world(stack, engineers=2, lat=48.85, lon=2.35)
    a, b = w.engineers
    with stack.api() as api:
        order = make_order(api, w)
    with ws_connect(stack, stack.admin_token) as feed, \
            ws_connect(stack, stack.admin_token, engineer=a) as only_a, \
            ws_connect(stack, stack.admin_token, bbox="10,10,11,11") as far_away:
        snap = json.loads(feed.recv(timeout=10))
        assert snap["type"] == "snapshot"
        assert {a, b} <= {e["id"] for e in snap["data"]["engineers"]}
        assert order["id"] in {o["id"] for o in snap["data"]["orders"]}
        assert w.site in {s["id"] for s in snap["data"]["sites"]}
        assert {"alerts", "etas", "orders_per_hour"} <= set(snap["data"])
        snap_a = json.loads(only_a.recv(timeout=10))
        assert [e["id"] for e in snap_a["data"]["engineers"]] == [a]
        json.loads(far_away.recv(timeout=10))
        time.sleep(4)  # the hub's consumer joins its group (latest offsets)

        def publish() -> None:
            for eng in (b, a):
                stack.publish(f"fieldflow/engineers/{eng}/location",
                              json.dumps({"ts": int(time.time() * 1000), "lat": 48.86,
                                          "lon": 2.36}))

        publish()
        pos = receive_until(feed, lambda m: m["type"] == "position"
                            and m["data"]["engineer_id"] == a)
        assert pos["data"]["lat"] == 48.86
        first = receive_until(only_a, lambda m: m["type"] == "position")
        assert first["data"]["engineer_id"] == a
        with stack.api() as api:
            ok(move(api, order["id"], "assigned", engineer_id=a))
        change = receive_until(feed, lambda m: m["type"] == "workorder"
                               and m["data"]["work_order_id"] == order["id"]
                               and m["data"]["to_status"] == "assigned")
        assert change["data"]["engineer_id"] == a
        receive_until(only_a, lambda m: m["type"] == "workorder")
        # Positions outside the box never reach the boxed client.
        with pytest.raises(AssertionError):
            receive_until(far_away, lambda m: m["type"] == "position", timeout_s=3)


class Receiver(BaseHTTPRequestHandler):
    """A webhook target on 127.0.0.2 (allowed by the fixture's
    FIELDFLOW_WEBHOOK_ALLOWED_NETWORKS) that fails the first ``fail_first`` requests."""

    received: list[tuple[bytes, dict[str, str]]] = []
    fail_first = 2
    calls = 0

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls += 1
        status = 500 if type(self).calls <= type(self).fail_first else 204
        if status == 204:
            type(self).received.append((raw, dict(self.headers)))
        self.send_response(status)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.2", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.2:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()


def test_webhooks_are_signed_retried_and_logged(stack: Stack, receiver: str) -> None:
    w = make_world(stack, engineers=1)
    secret = "s3cret-s3cret-s3cret"
    with stack.api() as api:
        assert_error(api.post("/api/v1/webhooks", json={"url": "ftp://x", "event_types": ["*"]}),
                     422)
        assert_error(api.post("/api/v1/webhooks", json={"url": receiver,
                                                        "event_types": ["party"]}), 422)
        hook = ok(api.post("/api/v1/webhooks", json={
            "url": receiver, "event_types": ["workorder.assigned"], "secret": secret}), 201)
        assert hook["secret"] == secret
        listed = ok(api.get("/api/v1/webhooks"))
        assert hook["id"] in {h["id"] for h in listed["items"]}
        assert all(h["secret"] is None for h in listed["items"])
        order = make_order(api, w)
        ok(move(api, order["id"], "assigned", engineer_id=w.engineers[0]))
        wait_until(lambda: Receiver.received, timeout_s=60)
        raw, headers = Receiver.received[0]
        assert verify(secret, raw, headers["X-FieldFlow-Signature"])
        body = json.loads(raw)
        assert body["type"] == "workorder.assigned"
        assert body["data"]["work_order_id"] == order["id"]
        assert headers["X-FieldFlow-Event-Id"] == body["id"] == body["data"]["event_id"]

        def delivered() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = ok(
                api.get(f"/api/v1/webhooks/{hook['id']}/deliveries"))["items"]
            return items if items and items[0]["state"] == "delivered" else []

        # One durable row per (webhook, event): three attempts, the last one acknowledged.
        [d] = wait_until(delivered, timeout_s=10)
        assert (d["attempt"], d["delivered"], d["status_code"], d["error"]) == (
            3, True, 204, None)
        assert d["event_id"] == body["id"] and d["delivered_at"] is not None
        ok(api.delete(f"/api/v1/webhooks/{hook['id']}"), 204)
        assert_error(api.delete(f"/api/v1/webhooks/{hook['id']}"), 404)
        assert_error(api.get("/api/v1/webhooks/999999/deliveries"), 404)
        assert hook["id"] not in {h["id"] for h in ok(api.get("/api/v1/webhooks"))["items"]}
