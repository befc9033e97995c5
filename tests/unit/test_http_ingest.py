"""The HTTP ingest core: what each request becomes (records, dead letters, status),
with a recording producer in place of Kafka (the e2e tests use the real one)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Sequence
from typing import Any

import orjson

from api.httpingest import HttpIngest
from ingest import osmand
from ingest.routing import TOPIC_DEADLETTER, TOPIC_POSITIONS, Outgoing
from models.codec import decode
from models.messages import DeadLetter, Position
from stack.settings import Settings


class Recorder:
    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, records: Sequence[Outgoing]) -> None:
        self.sent.extend(records)


def ingest(**settings: Any) -> tuple[HttpIngest, Recorder]:
    rec = Recorder()
    return HttpIngest(Settings(**settings), rec), rec  # type: ignore[arg-type]


def split(rec: Recorder) -> tuple[list[Position], list[DeadLetter]]:
    pos = [decode(Position, r.value) for r in rec.sent if r.topic == TOPIC_POSITIONS]
    dead = [decode(DeadLetter, r.value) for r in rec.sent if r.topic == TOPIC_DEADLETTER]
    return pos, dead


NOW = int(time.time() * 1000)


def test_native_batch_keeps_good_items_and_dead_letters_bad_ones() -> None:
    h, rec = ingest()
    body = orjson.dumps([{"ts": NOW, "lat": 51.5, "lon": -0.1, "acc": 5},
                         {"ts": NOW + 1, "lat": 91, "lon": 0},
                         {"ts": "2026-12-04T10:00:00Z", "lat": 1, "lon": 2, "batt": True}])
    out = asyncio.run(h.native("eng-1", body, "/api/v1/positions"))
    assert out.status == 422 and out.accepted == 1
    assert [r["index"] for r in out.rejected] == [1, 2]
    pos, dead = split(rec)
    assert [(p.engineer_id, p.ts) for p in pos] == [("eng-1", NOW)]
    assert [d.topic for d in dead] == ["http:/api/v1/positions"] * 2
    assert dead[0].reason.startswith("item 1: lat")
    assert json.loads(base64.b64decode(dead[1].payload_b64))["batt"] is True
    assert all(r.key == "eng-1" for r in rec.sent if r.topic == TOPIC_POSITIONS)


def test_native_whole_body_refusals() -> None:
    for body, status in ((b"nope", 400), (b"[]", 400), (b"42", 400),
                         (orjson.dumps([{"ts": NOW, "lat": 1, "lon": 1}] * 3), 413)):
        h, rec = ingest(http_ingest_max_batch=2)
        out = asyncio.run(h.native("eng-1", body, "/api/v1/positions"))
        assert out.status == status and out.accepted == 0
        assert [r.topic for r in rec.sent] == [TOPIC_DEADLETTER]


def test_clock_check_and_rate_limit_as_on_the_bridge() -> None:
    ahead = osmand.OsmAndRequest("t1", [osmand.Fix(ts=NOW + 3_600_000, lat=1, lon=1)])
    h, _ = ingest(max_event_ahead_s=60)
    out = asyncio.run(h.osmand(ahead, "eng-1", b"q", "/ingest/osmand", NOW))
    assert out.status == 422 and "ahead of the server clock" in out.rejected[0]["reason"]
    h, _ = ingest(device_rate_limit_per_s=1, device_rate_burst=1)
    fix = osmand.OsmAndRequest("t1", [osmand.Fix(ts=NOW, lat=1, lon=1),
                                      osmand.Fix(ts=NOW + 1, lat=1, lon=1)])
    out = asyncio.run(h.osmand(fix, "eng-1", b"q", "/ingest/osmand", NOW))
    assert out.accepted == 1 and out.status == 429


def test_owntracks_location_other_types_and_bad_json() -> None:
    h, rec = ingest()
    loc = json.dumps({"_type": "location", "lat": 51.5, "lon": -0.1, "tst": NOW // 1000,
                      "vel": 36, "acc": 5}).encode()
    out = asyncio.run(h.owntracks("eng-1", "phone", loc, "/ingest/owntracks"))
    assert (out.status, out.accepted) == (200, 1)
    pos, _ = split(rec)
    assert pos[0].engineer_id == "eng-1" and pos[0].speed_mps == 10.0
    h, rec = ingest()
    out = asyncio.run(h.owntracks("eng-1", "a/b", b'{"_type": "waypoints"}',
                                  "/ingest/owntracks"))
    assert out.status == 200 and out.accepted == 0
    _, dead = split(rec)
    assert "unsupported OwnTracks _type" in dead[0].reason
    h, rec = ingest()
    out = asyncio.run(h.owntracks("eng-1", None, b"{", "/ingest/owntracks"))
    assert out.status == 400 and split(rec)[1][0].topic == "http:/ingest/owntracks"
