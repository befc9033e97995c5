"""The live feed's per-client queue and filters, and webhook signing (no I/O)."""

from __future__ import annotations

import asyncio

import pytest

from api.live import LiveClient, parse_bbox
from services.webhooks import backoff_s, body, event_type, matches, sign, verify


def _pos(engineer: str, lat: float, lon: float) -> dict:
    return {"type": "position", "topic": "telemetry.positions", "key": engineer,
            "data": {"engineer_id": engineer, "lat": lat, "lon": lon}}


def test_a_client_that_never_reads_keeps_only_the_newest() -> None:
    async def run() -> LiveClient:
        client = LiveClient(maxsize=10)
        for i in range(1000):
            client.offer(_pos("e1", 0, i / 10))
        return client

    client = asyncio.run(run())
    assert client.queue.qsize() == 10 and client.skipped == 990
    assert client.queue.get_nowait()["data"]["lon"] == 99.0


def test_filters_by_engineer_and_bbox() -> None:
    async def run() -> tuple[LiveClient, LiveClient]:
        by_eng = LiveClient(engineer="e1")
        by_box = LiveClient(bbox=parse_bbox("51,-1,52,0"))
        for msg in (_pos("e1", 51.5, -0.5), _pos("e2", 51.5, -0.5), _pos("e1", 10, 10),
                    {"type": "alert", "topic": "events.alerts", "key": "d",
                     "data": {"device_id": "d"}}):
            by_eng.offer(msg)
            by_box.offer(msg)
        return by_eng, by_box

    by_eng, by_box = asyncio.run(run())
    assert by_eng.queue.qsize() == 2  # e1's two positions; the alert has no engineer
    assert by_box.queue.qsize() == 3  # two inside the box + the alert (no coordinates)


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "10,0,5,1", "-91,0,0,1"])
def test_bad_bbox(text: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        parse_bbox(text)


def test_webhook_signature_and_matching() -> None:
    raw = body("id1", "workorder.assigned", 1, {"work_order_id": "WO-1"})
    sig = sign("k" * 16, raw)
    assert sig.startswith("sha256=") and verify("k" * 16, raw, sig)
    assert not verify("other-key-other-key", raw, sig)
    assert not verify("k" * 16, raw + b" ", sig)
    assert event_type("events.workorders", {"to_status": "closed"}) == "workorder.closed"
    changed = {"to_status": "assigned", "details": {"changed": {"priority": {}}}}
    assert event_type("events.workorders", changed) == "workorder.updated"
    assert event_type("events.alerts", {"state": "opened"}) == "alert.opened"
    assert event_type("telemetry.positions", {}) is None
    assert matches(["workorder"], "workorder.closed")
    assert matches(["*"], "alert.opened")
    assert not matches(["workorder.completed"], "workorder.closed")
    assert [backoff_s(n, 1, 5) for n in range(1, 6)] == [1, 2, 4, 5, 5]
