"""The transactional outbox over the real stack (issue #21): a Kafka outage loses no
event and doubles none; a pre-emptive assignment that a concurrent change rolls back
tells nobody anything; one SLA rule for every path that creates an order."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psutil
import psycopg
import pytest
from psycopg.types.json import Jsonb

from models.messages import AlertEvent, AlertState, Severity
from services.outbox import Outbox
from services.workorders import create_order
from stack.procs import free_port
from streams.automation import order_for_alert
from tests.e2e.conftest import Stack, wait_until
from tests.e2e.seed import query, seed_site
from tests.e2e.test_api_dispatch import _shift, assign, set_online, skilled_world
from tests.e2e.test_api_world import make_order, make_world, move, ok, uid

pytestmark = pytest.mark.e2e


def say(what: str) -> None:
    print(f"[outbox] {what}", flush=True)


class Receiver:
    """A webhook receiver: a local HTTP server recording every POST (event id, body)."""

    def __init__(self, port: int | None = None) -> None:
        self.got: list[tuple[str, dict[str, Any]]] = []
        got = self.got

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                got.append((self.headers.get("X-FieldFlow-Event-Id", ""), json.loads(raw)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                return

        self.port = port or free_port()
        # 127.0.0.2: the fixture's FIELDFLOW_WEBHOOK_ALLOWED_NETWORKS (loopback is refused)
        self.server = ThreadingHTTPServer(("127.0.0.2", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.2:{self.port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pid(stack: Stack, service: str) -> int:
    status = json.loads(stack.cli("status", "--json").stdout)
    return int(status["services"][service]["pid"])


def _event_ids(stack: Stack, ids: list[str]) -> list[str]:
    rows = query(stack.database_url, "SELECT event_id::text FROM outbox WHERE destination ="
                 " 'events.workorders' AND key = ANY(%s)", (ids,))
    return [r[0] for r in rows]


@pytest.mark.faults
def test_kafka_stopped_30s_every_event_reaches_the_topic_and_webhooks_once(
        stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    eng = w.engineers[0]
    hook = Receiver()
    with stack.api() as api:
        ok(api.post("/api/v1/webhooks", json={"url": hook.url, "event_types": ["workorder"]}),
           201)
    kafka = psutil.Process(_pid(stack, "kafka"))
    procs = [kafka, *kafka.children(recursive=True)]
    stopped_at = time.monotonic()
    for p in procs:
        p.send_signal(signal.SIGSTOP)
    say(f"injected: SIGSTOP to Kafka (pid {kafka.pid}) for 30 s while orders are created"
        " and moved through the API")
    ids: list[str] = []
    try:
        with stack.api() as api:
            for _ in range(4):
                order = make_order(api, w)
                ids.append(order["id"])
                ok(move(api, order["id"], "assigned", engineer_id=eng))
                ok(move(api, order["id"], "accepted"))
        time.sleep(max(0.0, 30 - (time.monotonic() - stopped_at)))
    finally:
        for p in procs:
            if p.is_running():
                p.send_signal(signal.SIGCONT)
    say("resumed Kafka (SIGCONT)")
    try:
        expected = _event_ids(stack, ids)
        assert len(expected) == 12  # new, assigned, accepted for each of 4 orders
        stored = query(stack.database_url, "SELECT count(*) FROM work_order_events"
                       " WHERE work_order_id = ANY(%s)", (ids,))[0][0]
        assert stored == 12

        def on_topic(msgs: list[Any]) -> bool:
            seen = {json.loads(m.value()).get("event_id") for m in msgs
                    if m.key() and m.key().decode() in ids}
            return set(expected) <= seen

        msgs = stack.consume("events.workorders", until=on_topic, timeout_s=180)
        mine = Counter(json.loads(m.value()).get("event_id") for m in msgs
                       if m.key() and m.key().decode() in ids)
        wait_until(lambda: {e for e, _ in hook.got} >= set(expected), timeout_s=60)
        hooked = Counter(e for e, body in hook.got if body["data"]["work_order_id"] in ids)
        audit = query(stack.database_url, "SELECT entity_id, action FROM audit_log"
                      " WHERE entity = 'work_order' AND entity_id = ANY(%s)", (ids,))
        say(f"checked: {len(expected)} events; on the topic {sum(mine.values())} records for"
            f" {len(mine)} event ids; webhook {sum(hooked.values())} posts for"
            f" {len(hooked)} ids; {len(audit)} audit rows")
    finally:
        hook.close()
    assert mine == Counter(dict.fromkeys(expected, 1)), "each event once on the topic"
    assert hooked == Counter(dict.fromkeys(expected, 1)), "each event once at the webhook"
    assert sorted(Counter(a for _, a in audit).items()) == [("create", 4), ("transition", 8)]
    # Every webhook body carries the event id it was posted with.
    assert all(body["id"] == e for e, body in hook.got)


@pytest.mark.faults
def test_a_webhook_down_across_an_api_restart_is_delivered_once_when_it_comes_up(
        stack: Stack) -> None:
    """The delivery is a row: the receiver is down, the API (whose relay sends it) is killed
    and restarted by the supervisor, then the receiver comes up and gets it exactly once."""
    port = free_port()
    url = f"http://127.0.0.2:{port}/hook"
    with stack.api() as api:
        hook_id = ok(api.post("/api/v1/webhooks",
                              json={"url": url, "event_types": ["workorder"]}), 201)["id"]
        order = make_order(api, make_world(stack, engineers=1))["id"]
    [event_id] = _event_ids(stack, [order])

    def attempts() -> int:
        rows = query(stack.database_url, "SELECT attempt FROM webhook_deliveries"
                     " WHERE webhook_id = %s AND event_id = %s", (hook_id, event_id))
        return int(rows[0][0]) if rows else 0

    wait_until(attempts, timeout_s=30)  # the first try met a closed port
    old = _pid(stack, "api")
    psutil.Process(old).send_signal(signal.SIGKILL)
    say(f"injected: kill -9 of the API (pid {old}) with the webhook's receiver down")
    wait_until(lambda: _pid(stack, "api") not in (0, old), timeout_s=90, interval=0.3)

    def api_up() -> bool:
        try:
            return httpx.get(f"{stack.api_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(api_up, timeout_s=60, interval=0.3)
    hook = Receiver(port)
    say("receiver up")
    try:
        def mine() -> list[str]:
            return [e for e, _ in hook.got if e == event_id]

        wait_until(mine, timeout_s=120)
        time.sleep(3)  # a second copy would come now
        got = mine()
    finally:
        hook.close()
    with stack.api() as api:
        # The hook takes every work-order event: other orders (and later events of this one,
        # an SLA breach say) may add rows of their own.
        items = ok(api.get(f"/api/v1/webhooks/{hook_id}/deliveries"))["items"]
    [delivery] = [d for d in items if d["event_id"] == event_id]
    say(f"checked: delivered after {delivery['attempt']} attempts: {got}")
    assert got == [event_id]
    assert delivery["state"] == "delivered" and delivery["attempt"] >= 2


def test_a_rolled_back_preemption_sends_nothing(stack: Stack) -> None:
    """P1 pre-empts a P4 and books the depot's last part; a concurrent change reserves that
    part first, so the assignment rolls back after the P4 was rejected inside it: the
    engineer's phone hears nothing and no event is published."""
    w, skill = skilled_world(stack, engineers=1)
    eng = w.engineers[0]
    part, depot = uid("part"), uid("depot")
    inbox: list[dict[str, Any]] = []
    phone = stack.mqtt_client()
    phone.on_message = lambda _c, _u, msg: inbox.append(json.loads(msg.payload))
    phone.subscribe(f"fieldflow/engineers/{eng}/inbox", qos=1)
    with stack.api() as api:
        ok(api.post("/api/v1/parts", json={"id": part, "name": "Rare valve"}), 201)
        ok(api.put(f"/api/v1/depots/{depot}",
                   json={"name": "North store", "lat": w.lat + 0.005, "lon": w.lon}))
        ok(api.put(f"/api/v1/depots/{depot}/stock/{part}", json={"qty": 1}))
        ok(api.patch(f"/api/v1/engineers/{eng}", json=_shift(datetime.now(UTC), 70)))
        p4 = make_order(api, w, required_skills=[skill], priority="P4")
        ok(assign(api, p4["id"], {"engineer_id": eng}))
        other = make_order(api, w, required_skills=[uid("rare")], required_parts={part: 1})
    with psycopg.connect(stack.database_url) as rival:  # the concurrent change
        rival.execute("SELECT qty FROM depot_stock WHERE depot_id = %s FOR UPDATE", (depot,))
        with stack.api() as api:
            set_online(api, eng)
            p1 = make_order(api, w, required_skills=[skill], required_parts={part: 1},
                            priority="P1")
            best = ok(api.get(f"/api/v1/work-orders/{p1['id']}/candidates"))["candidates"][0]
            assert (best["engineer_id"], best["preempts"], best["depot_id"]) == (
                eng, p4["id"], depot)
        answer: list[httpx.Response] = []
        thread = threading.Thread(target=lambda: answer.append(
            stack.api().post(f"/api/v1/work-orders/{p1['id']}/assign")))
        thread.start()
        wait_until(lambda: query(
            stack.database_url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type"
            " = 'Lock' AND query ILIKE '%%depot_stock%%'")[0][0] >= 1, timeout_s=20)
        rival.execute("UPDATE work_orders SET pickup_depot_id = %s, pickup_parts = %s"
                      " WHERE id = %s", (depot, Jsonb({part: 1}), other["id"]))
        rival.commit()
    thread.join(30)
    assert answer and answer[0].status_code == 409, answer and answer[0].text
    assert "no longer has" in answer[0].json()["error"]["message"]
    with stack.api() as api:  # nothing changed
        assert ok(api.get(f"/api/v1/work-orders/{p4['id']}"))["status"] == "assigned"
        assert ok(api.get(f"/api/v1/work-orders/{p1['id']}"))["engineer_id"] is None
        # Sentinels after the rollback, on the same keys: the relay keeps order per key, so
        # anything the rolled-back change had sent would arrive before them.
        sentinel = make_order(api, w, required_skills=[skill])
        ok(assign(api, sentinel["id"], {"engineer_id": eng}))  # the same phone
        ok(move(api, p4["id"], "accepted"))  # the P4's key on events.workorders
        ok(api.patch(f"/api/v1/work-orders/{p1['id']}", json={"title": "P1, later"}))
    try:
        wait_until(lambda: any(m.get("work_order_id") == sentinel["id"] for m in inbox),
                   timeout_s=30)
    finally:
        phone.loop_stop()
        phone.disconnect()
    told = [(m.get("type"), m.get("work_order_id")) for m in inbox]
    # The P4's own assignment (before), the sentinel's (after): no withdrawal of the P4,
    # no assignment of the P1.
    assert told == [("assignment", p4["id"]), ("assignment", sentinel["id"])], told
    keys = {p4["id"], p1["id"], sentinel["id"]}

    def moves_of(msgs: list[Any]) -> list[tuple[str, str, str]]:
        return [(v["work_order_id"], v["to_status"], v["reason"]) for v in
                (json.loads(m.value()) for m in msgs if m.key() and m.key().decode() in keys)]

    def sentinels_in(msgs: list[Any]) -> bool:
        seen = {(o, s) for o, s, _ in moves_of(msgs)}
        return {(p4["id"], "accepted"), (sentinel["id"], "assigned")} <= seen and any(
            o == p1["id"] and r == "changed title" for o, _, r in moves_of(msgs))

    moves = [(o, s) for o, s, _ in moves_of(stack.consume("events.workorders",
                                                          until=sentinels_in, timeout_s=60))]
    assert (p4["id"], "rejected") not in moves and (p1["id"], "assigned") not in moves
    assert moves.index((p4["id"], "assigned")) < moves.index((p4["id"], "accepted"))


def _due_minutes(stack: Stack, order_id: str) -> float:
    created, due = query(stack.database_url, "SELECT created_at, sla_due FROM work_orders"
                         " WHERE id = %s", (order_id,))[0]
    return float((due - created) / timedelta(minutes=1))


def test_one_sla_rule_for_the_api_an_iot_alert_and_a_fault_prediction(stack: Stack) -> None:
    """Gold customer, P2 (a ``major`` alert): the same response target on every path.
    The API and the IoT alert run over the real stack; the fault prediction's order is
    created by the streams' own use case (``order_for_alert`` + ``create_order``) against
    the stack's database, since driving the fault model to a prediction takes minutes."""
    site = seed_site(stack.database_url, lat=51.53, lon=-0.09, tier="gold",
                     rules=["temperature > 90 severity major as overheating"])
    expected = float(query(stack.database_url, "SELECT response_minutes FROM sla_targets"
                           " WHERE tier = 'gold' AND priority = 'P2'")[0][0])
    with stack.api() as api:
        by_hand = ok(api.post("/api/v1/work-orders", json={
            "title": "By hand", "priority": "P2", "site_id": site["site"]}), 201)
    time.sleep(6)  # the agents load the new device and its rules
    dev, t0 = site["dev"], int(time.time() * 1000)
    pub = stack.mqtt_client()
    for i in range(3):
        pub.publish(f"fieldflow/devices/{dev}/telemetry",
                    json.dumps({"ts": t0 + i * 1000, "metrics": {"temperature": 95.0}}), qos=1)
    pub.loop_stop()
    pub.disconnect()
    [(from_alert,)] = wait_until(lambda: query(
        stack.database_url, "SELECT id FROM work_orders WHERE asset_id = %s"
        " AND idempotency_key LIKE 'alert:%%'", (site["asset"],)), timeout_s=60)

    async def predicted() -> str:
        device = {"asset_id": site["asset"], "site_id": site["site"],
                  "customer_id": site["cust"], "required_skills": []}
        alert = AlertEvent(device_id=dev, asset_id=site["asset"], fault_type="predicted_failure",
                           kind="prediction", severity=Severity.MAJOR,
                           dedup_key=uid("pred"), state=AlertState.OPENED,
                           ts=int(time.time() * 1000), message="RUL low", details={"rul": 20})
        async with await psycopg.AsyncConnection.connect(stack.database_url,
                                                         autocommit=True) as conn:
            row, _ = await create_order(order_for_alert(alert, device), conn=conn,
                                        publisher=Outbox(conn), actor="automation",
                                        ts_ms=alert.ts)
        return str(row["id"])

    from_prediction = asyncio.run(predicted())
    got = {name: _due_minutes(stack, oid) for name, oid in (
        ("api", by_hand["id"]), ("iot alert", from_alert), ("prediction", from_prediction))}
    say(f"checked: response minutes {got} (sla_targets gold/P2: {expected})")
    assert all(abs(m - expected) < 0.01 for m in got.values()), got
