"""What the engineer's app needs from the API, against the real stack: the shell, the
live inbox channel, my jobs, and moves and part uses that a replay cannot apply twice."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from websockets.sync.client import connect

from tests.e2e.conftest import Stack
from tests.e2e.test_api_live import close_code, receive_until
from tests.e2e.test_api_world import make_order, make_world, move, ok

pytestmark = pytest.mark.e2e


def inbox_url(stack: Stack, token: str) -> str:
    return stack.api_url.replace("http://", "ws://") + f"/ws/inbox?token={token}"


def test_the_app_shell_is_an_installable_pwa(stack: Stack) -> None:
    with httpx.Client(base_url=stack.api_url, timeout=10) as web:
        index = web.get("/app/")
        assert index.status_code == 200
        assert 'rel="manifest" href="/app/manifest.webmanifest"' in index.text
        assert web.get("/app", follow_redirects=False).headers["location"] == "/app/"
        manifest = web.get("/app/manifest.webmanifest")
        assert manifest.headers["content-type"].startswith("application/manifest+json")
        m = manifest.json()
        assert (m["start_url"], m["display"], m["scope"]) == ("/app/", "standalone", "/app/")
        for icon in m["icons"]:
            png = web.get(icon["src"])
            assert png.status_code == 200
            assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
            side = int.from_bytes(png.content[16:20], "big")  # IHDR width
            assert icon["sizes"] == f"{side}x{side}"
        sw = web.get("/app/sw.js")
        assert sw.headers["service-worker-allowed"] == "/app/"
        assert sw.headers["content-type"].startswith("text/javascript")
        # Everything the service worker caches for offline use is really there.
        shell = json.loads("[" + sw.text.split("const SHELL = [", 1)[1].split("];", 1)[0]
                           .rstrip().rstrip(",") + "]")
        for path in shell:
            assert web.get(path).status_code == 200, path
        for bad in ("/app/..%2Fapp.py", "/app/nope.js", "/app/icons/../../routers/jobs.py"):
            assert web.get(bad).status_code == 404, bad
        assert web.get("/static/vendor/idb/LICENSE").status_code == 200


def test_inbox_channel_pushes_the_engineers_own_assignments(stack: Stack) -> None:
    w = make_world(stack, engineers=2)
    eng, other = w.engineers
    assert close_code(inbox_url(stack, "nope")) == 4401
    assert close_code(inbox_url(stack, stack.admin_token)) == 4403
    with connect(inbox_url(stack, w.tokens[eng])) as ws, \
            connect(inbox_url(stack, w.tokens[other])) as ws_other:
        assert json.loads(ws.recv(timeout=10)) == {"type": "hello", "engineer_id": eng}
        json.loads(ws_other.recv(timeout=10))
        time.sleep(0.5)
        with stack.api() as api:
            oid = make_order(api, w, title="Inbox test")["id"]
            ok(move(api, oid, "assigned", engineer_id=eng))
        msg = receive_until(ws, lambda m: m.get("work_order_id") == oid, 20)
        assert (msg["type"], msg["title"]) == ("assignment", "Inbox test")
        with pytest.raises(TimeoutError):  # the other engineer hears nothing of it
            ws_other.recv(timeout=2)


def test_my_jobs_in_route_order_with_names(stack: Stack) -> None:
    w = make_world(stack, engineers=2)
    eng, other = w.engineers
    with stack.api() as api:
        first = make_order(api, w, title="First")["id"]
        second = make_order(api, w, title="Second")["id"]
        ok(move(api, first, "assigned", engineer_id=eng))
        ok(move(api, second, "assigned", engineer_id=eng))
    with stack.api(w.tokens[eng]) as mine:
        jobs = ok(mine.get(f"/api/v1/engineers/{eng}/jobs"))
        assert [j["id"] for j in jobs] == [first, second]
        assert (jobs[0]["customer_name"], jobs[0]["site_name"], jobs[0]["asset_model"]) == (
            "Acme Cooling", "Acme HQ", "Chiller X")
        assert mine.get(f"/api/v1/engineers/{other}/jobs").status_code == 403
        detail = ok(mine.get(f"/api/v1/work-orders/{first}/job"))
        assert detail["job"]["id"] == first
        assert {o["id"] for o in detail["asset_history"]["orders"]} >= {first, second}
    with stack.api(w.tokens[other]) as theirs:
        assert theirs.get(f"/api/v1/work-orders/{first}/job").status_code == 404


def test_a_replayed_move_or_part_use_is_applied_once(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    eng = w.engineers[0]
    with stack.api() as api:
        oid = make_order(api, w)["id"]
        ok(move(api, oid, "assigned", engineer_id=eng))
    ts = int(time.time() * 1000) - 60_000
    with stack.api(w.tokens[eng]) as phone:
        for _ in range(2):
            ok(move(phone, oid, "accepted", ts=ts, idempotency_key="k-accept-1"))
        again = ok(move(phone, oid, "en_route", idempotency_key="k-drive-1"))
        assert again["status"] == "en_route"
        # the first key again after the order moved on: no 409, nothing changes
        assert ok(move(phone, oid, "accepted", ts=ts, idempotency_key="k-accept-1"))[
            "status"] == "en_route"
        uses = [ok(phone.post(f"/api/v1/work-orders/{oid}/parts",
                              json={"part_id": w.part, "qty": 1, "ts": ts}), 201)
                for _ in range(2)]
        assert uses[0]["id"] == uses[1]["id"]
        ok(phone.post(f"/api/v1/work-orders/{oid}/parts",
                      json={"part_id": w.part, "qty": 1, "ts": ts + 1}), 201)  # a new use
        assert len(ok(phone.get(f"/api/v1/work-orders/{oid}/parts"))) == 2
        van = ok(phone.get(f"/api/v1/engineers/{eng}/van-stock"))
        stock = {s["part_id"]: s["qty"] for s in van}
        assert stock[w.part] == 3 - 2
        events = ok(phone.get(f"/api/v1/work-orders/{oid}/events"))["items"]
        assert [e["to_status"] for e in events] == ["new", "assigned", "accepted", "en_route"]
        assert move(phone, oid, "accepted", idempotency_key="bad key!").status_code == 422
