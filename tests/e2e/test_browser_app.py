"""The engineer's app in headless Chromium on a phone: enrol, a job arrives live, accept,
drive (emulated GPS, step by step) until the geofence checks in over the real streams,
photo and signature, offline part use and completion, one replay when back online."""

from __future__ import annotations

import base64
import io
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from models.geo import haversine_m
from tests.e2e.browser import ARTIFACTS, CHROMIUM, launch
from tests.e2e.conftest import Stack, wait_until
from tests.e2e.test_api_world import make_order, make_world, move, ok

PHONE = {"width": 390, "height": 844}
SITE = (52.0907, 5.1214)  # Utrecht
START = (52.0700, 5.0900)  # ~3.3 km south-west of the site
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium"),
]


@pytest.fixture
def phone() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        try:
            context = browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
                geolocation={"latitude": START[0], "longitude": START[1], "accuracy": 8},
                permissions=["geolocation"],
            )
            yield context
        finally:
            browser.close()


def _jpeg() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (640, 480), (40, 90, 120))
    ImageDraw.Draw(img).rectangle([100, 100, 540, 380], fill=(230, 180, 30))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _events(api: httpx.Client, order_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = ok(api.get(f"/api/v1/work-orders/{order_id}/events",
                                             params={"limit": 500}))["items"]
    return items


def _status(api: httpx.Client, order_id: str) -> str:
    return str(ok(api.get(f"/api/v1/work-orders/{order_id}"))["status"])


def _step(start: tuple[float, float], end: tuple[float, float], f: float) -> tuple[float, float]:
    return (start[0] + (end[0] - start[0]) * f, start[1] + (end[1] - start[1]) * f)


def _enrol(stack: Stack, eng: str) -> str:
    """The one-time link a dispatcher gives the engineer (as a link or a QR code)."""
    with stack.api() as api:
        enrol = ok(api.post(f"/api/v1/engineers/{eng}/enrolment", json={}), 201)
    assert enrol["url"].endswith(f"/app/#enrol={enrol['code']}")
    assert "<svg" in enrol["qr_svg"]
    return f"{stack.api_url}/app/#enrol={enrol['code']}"


def test_engineer_app_from_enrolment_to_offline_completion(stack: Stack, phone: Any) -> None:
    w = make_world(stack, engineers=1, lat=SITE[0], lon=SITE[1])
    eng = w.engineers[0]
    page = phone.new_page()
    url = _enrol(stack, eng)

    # 1. Enrol: the one-time link opens the app, which keeps the token; a second use fails.
    page.goto(url)
    page.wait_for_selector("#no-jobs", timeout=20000)
    page.wait_for_selector("#net.on", timeout=15000)
    assert page.text_content("#who") == eng
    again = httpx.post(f"{stack.api_url}/api/v1/enrolment/redeem",
                       json={"code": url.rsplit("=", 1)[1]}, timeout=10)
    assert 400 <= again.status_code < 500, again.text
    token = page.evaluate("import('/app/db.js').then(db => db.get('auth')).then(a => a.token)")
    engineer_api = stack.api(token)

    # 2. A job assigned by the dispatcher arrives live (inbox -> /ws/inbox), flagged new.
    page.wait_for_selector("#net:text('live')", timeout=15000)
    with stack.api() as api:
        earlier = make_order(api, w, title="Chiller leaking")["id"]  # the asset's history
        ok(move(api, earlier, "cancelled", reason="fixed by the customer"))
        order = make_order(api, w, title="Chiller overheating", priority="P1",
                           required_parts={w.part: 1})
        oid = order["id"]
        ok(move(api, oid, "assigned", engineer_id=eng))
    page.wait_for_selector("#toast:has-text('New job: Chiller overheating')", timeout=15000)
    card = f"[id='job-{oid}']"  # the list is redrawn on every refresh: look it up each time
    page.wait_for_selector(f"{card}.new-arrival", timeout=10000)
    assert "Acme Cooling" in (page.text_content(card) or "")
    assert "Acme HQ" in (page.text_content(card) or "")
    page.screenshot(path=str(ARTIFACTS / "app-1-today.png"))

    # 3. The job: asset, its history, parts needed, navigation links; accept.
    page.click(card)
    page.wait_for_selector("#order-title[data-status='assigned']", timeout=10000)
    assert "Chiller X" in (page.text_content("#asset") or "")
    assert "Chiller leaking (cancelled)" in (page.text_content("#asset-history") or "")
    assert "Compressor relay" in (page.text_content("#parts-needed") or "")
    assert page.get_attribute("#nav-geo", "href").startswith(f"geo:{SITE[0]},{SITE[1]}")
    assert "openstreetmap.org" in page.get_attribute("#nav-osm", "href")
    page.screenshot(path=str(ARTIFACTS / "app-2-order.png"))
    page.click("#accept")
    wait_until(lambda: _status(engineer_api, oid) == "accepted", 20)

    # 4. Drive: the phone's GPS goes POST /api/v1/positions -> Kafka -> streams geofence.
    page.wait_for_selector("#drive", timeout=10000)
    page.click("#drive")
    wait_until(lambda: _status(engineer_api, oid) == "en_route", 20)
    page.wait_for_selector("#driving", timeout=10000)
    time.sleep(6)  # the stream agents reload active orders every 5 s
    # Event time moves 20 s per step on the phone's clock (the check-in needs a dwell of
    # event time, not of wall time); the steps end a few minutes ahead of real time.
    t = datetime.now(UTC)
    for k in range(1, 9):
        t += timedelta(seconds=20)
        page.clock.set_system_time(t)
        lat, lon = _step(START, SITE, k / 8)
        phone.set_geolocation({"latitude": lat, "longitude": lon, "accuracy": 8})
        time.sleep(0.8)
    for k in range(20):  # parked at the site, a few metres of GPS jitter
        if page.query_selector("#checked-in"):
            break
        t += timedelta(seconds=20)
        page.clock.set_system_time(t)
        jitter = 0.00005 * (k % 3)
        phone.set_geolocation({"latitude": SITE[0] + jitter, "longitude": SITE[1] - jitter,
                               "accuracy": 8})
        time.sleep(1.5)
    page.wait_for_selector("#checked-in", timeout=30000)
    assert _status(engineer_api, oid) == "on_site"
    with stack.api() as api:
        checkin = [e for e in _events(api, oid) if e["to_status"] == "on_site"]
    assert [e["actor"] for e in checkin] == ["geofence"]
    stored = ok(engineer_api.get(f"/api/v1/engineers/{eng}/position"))
    assert haversine_m(stored["lat"], stored["lon"], *SITE) < 100

    # 5. On site, online: a photo from the "camera" and the customer's drawn signature.
    photo = _jpeg()
    page.set_input_files("#item-photo_after", files=[
        {"name": "after.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    page.wait_for_selector("#thumb-photo_after", timeout=10000)
    page.check("#item-diagnosis")
    page.check("#item-test_run")
    page.locator("#signature").scroll_into_view_if_needed()
    box = page.locator("#signature").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 30, box["y"] + 100)
    page.mouse.down()
    for i in range(1, 30):
        page.mouse.move(box["x"] + 30 + i * 10, box["y"] + 100 + (25 if i % 4 < 2 else -25))
    page.mouse.up()
    page.click("#save-signature")
    page.wait_for_selector("#signature-saved", timeout=10000)
    page.wait_for_selector("#outbox", state="hidden", timeout=20000)
    signature = base64.b64decode(page.evaluate(
        "import('/app/db.js').then(db => db.get('draft:" + oid + "'))"
        ".then(d => d.signature.blob.arrayBuffer())"
        ".then(b => btoa(String.fromCharCode(...new Uint8Array(b))))"))
    assert signature.startswith(b"\x89PNG")
    page.locator("#checklist").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -80)")  # below the app's bar
    page.screenshot(path=str(ARTIFACTS / "app-3-on-site.png"))

    # 6. Offline: use a part, complete. Nothing reaches the API; the outbox holds it all.
    with stack.api() as api:
        van_before = {s["part_id"]: s["qty"] for s in
                      ok(api.get(f"/api/v1/engineers/{eng}/van-stock"))}
    phone.set_offline(True)
    page.wait_for_selector("#part", timeout=5000)
    page.select_option("#part", w.part)
    page.click("#use-part")
    page.wait_for_selector("#parts-used", timeout=5000)  # the screen shows it (queued)
    page.fill("#notes", "Relay replaced, test run fine")
    page.click("#complete")
    page.wait_for_selector("#outbox:not([hidden])", timeout=10000)
    page.wait_for_selector("#completed", timeout=10000)  # the phone shows it done
    queued = page.evaluate("import('/app/outbox.js').then(o => o.pending())")
    kinds = [e["kind"] for e in queued if e["kind"] != "positions"]
    assert kinds == ["part", "checklist", "transition", "transition"], kinds
    assert [e.get("to") for e in queued if e["kind"] == "transition"] == ["in_progress",
                                                                           "completed"]
    # The shell opens without a network (service worker), the outbox survives a reload.
    page.reload()
    page.wait_for_selector("#completed", timeout=15000)
    assert "to send" in (page.text_content("#outbox") or "")
    time.sleep(2)
    assert _status(engineer_api, oid) == "on_site"
    assert ok(engineer_api.get(f"/api/v1/work-orders/{oid}/parts")) == []

    # 7. Back online: the outbox replays once, in order.
    phone.set_offline(False)
    page.wait_for_selector("#outbox", state="hidden", timeout=30000)
    wait_until(lambda: _status(engineer_api, oid) == "completed", 20)
    page.wait_for_selector("#sign-off", timeout=15000)
    page.screenshot(path=str(ARTIFACTS / "app-4-completed.png"))

    # A second replay of the very same requests (lost answers, a retry) changes nothing.
    for e in queued:
        if e["kind"] == "transition":
            r = engineer_api.post(f"/api/v1/work-orders/{oid}/transitions", json={
                "to": e["to"], "reason": e.get("reason", ""), "ts": e["ts"],
                "idempotency_key": e["key"]})
            assert r.status_code == 200, r.text
        elif e["kind"] == "part":
            r = engineer_api.post(f"/api/v1/work-orders/{oid}/parts", json={
                "part_id": e["part_id"], "qty": e["qty"], "ts": e["ts"]})
            assert r.status_code == 201, r.text

    with stack.api() as api:
        events = _events(api, oid)
        moves = Counter(e["to_status"] for e in events)
        assert moves == Counter({"new": 1, "assigned": 1, "accepted": 1, "en_route": 1,
                                 "on_site": 1, "in_progress": 1, "completed": 1}), moves
        done = next(e for e in events if e["to_status"] == "completed")
        assert done["reason"] == "Relay replaced, test run fine"
        used = ok(api.get(f"/api/v1/work-orders/{oid}/parts"))
        assert [(u["part_id"], u["qty"]) for u in used] == [(w.part, 1)]
        van_after = {s["part_id"]: s["qty"] for s in
                     ok(api.get(f"/api/v1/engineers/{eng}/van-stock"))}
        assert van_after[w.part] == van_before[w.part] - 1
        files = ok(api.get(f"/api/v1/work-orders/{oid}/attachments"))
        files = files["items"] if isinstance(files, dict) else files
        by_kind = {f["kind"]: f for f in files}
        assert sorted(by_kind) == ["photo", "signature"], files
        assert len(files) == 2
        for kind, content in (("photo", photo), ("signature", signature)):
            got = api.get(f"/api/v1/attachments/{by_kind[kind]['id']}")
            assert got.status_code == 200
            assert got.content == content, kind
        checklist = ok(api.get(f"/api/v1/work-orders/{oid}/checklist"))
        assert checklist["complete"] is True

    # 8. The customer signs off on the phone.
    page.fill("#signed-by", "Ada Lovelace")
    page.click("#sign-off")
    wait_until(lambda: _status(engineer_api, oid) == "signed_off", 20)
    page.wait_for_selector(f"[id='job-{oid}']", state="detached", timeout=15000)
    engineer_api.close()


def test_a_job_reassigned_while_offline_is_shown_as_a_conflict(stack: Stack, phone: Any) -> None:
    w = make_world(stack, engineers=2, lat=SITE[0], lon=SITE[1])
    eng, other = w.engineers
    page = phone.new_page()
    page.goto(_enrol(stack, eng))
    page.wait_for_selector("#no-jobs", timeout=20000)
    with stack.api() as api:
        oid = make_order(api, w, title="Door sensor")["id"]
        ok(move(api, oid, "assigned", engineer_id=eng))
    page.wait_for_selector(f"[id='job-{oid}']", timeout=20000)
    page.click(f"[id='job-{oid}']")
    page.wait_for_selector("#accept", timeout=10000)
    phone.set_offline(True)
    page.click("#accept")  # queued on the phone
    with stack.api() as api:  # meanwhile the dispatcher gives the job to someone else
        ok(move(api, oid, "assigned", engineer_id=other))
    phone.set_offline(False)
    page.wait_for_selector(".conflict[data-kind='transition']", timeout=30000)
    text = page.text_content("#conflicts") or ""
    assert "move to accepted" in text and oid in text and "no longer yours" in text
    page.wait_for_selector("#not-mine", timeout=15000)  # the job's screen says so too
    page.wait_for_selector("#outbox", state="hidden", timeout=10000)
    with stack.api() as api:
        order = ok(api.get(f"/api/v1/work-orders/{oid}"))
        assert (order["status"], order["engineer_id"]) == ("assigned", other)
        assert [e["to_status"] for e in _events(api, oid)].count("accepted") == 0
