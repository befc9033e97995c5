"""The phone's checklist answers match the item kinds the platform validates."""

from __future__ import annotations

import json
import random
from typing import Any, cast

from ingest import native, owntracks
from models.codec import decode
from models.messages import Position, Reading
from simulators.catalog import ASSET_MODELS
from simulators.devices import DeviceSim
from simulators.phone import Phone, checklist_answers, picture, position_message
from simulators.scenario import Asset, ScenarioOptions, build_scenario
from simulators.truth import Truth


def test_answers_follow_item_kinds() -> None:
    items = [{"id": "diagnosis", "kind": "checkbox", "required": True},
             {"id": "pressure", "kind": "number", "min": 2, "max": 4},
             {"id": "floor", "kind": "number", "min": 1},
             {"id": "photo_after", "kind": "photo", "required": True},
             {"id": "signature", "kind": "signature", "required": True}]
    a = checklist_answers(items, {"photo_after": "att-1", "signature": "att-2"})
    assert a["diagnosis"] is True and a["pressure"] == 3 and a["floor"] == 1
    assert a["photo_after"] == "att-1" and a["signature"] == "att-2"
    assert checklist_answers([], {}) == {}


def test_pictures_are_pngs_the_platform_takes(tmp_path: Any) -> None:
    from services.attachments import content_type_for
    from services.media import photo_facts

    a, b = picture("WO-1", "photo_after"), picture("WO-2", "photo_after")
    assert a != b and content_type_for("photo", a) == "image/png"
    path = tmp_path / "p.png"
    path.write_bytes(a)
    assert photo_facts(path).thumbnail.startswith(b"\xff\xd8")


def test_the_bridge_accepts_what_the_phone_sends() -> None:
    ts = 1_795_425_600_000
    topic, body = position_message("eng-1", ts, owntracks=False, lat=51.5, lon=-0.12,
                                   acc=12.3, speed=8.0, heading=359.96, battery=77.0)
    assert topic == "fieldflow/engineers/eng-1/location"
    rec = native.parse_position("eng-1", json.dumps(body).encode(), ts)
    pos = decode(Position, rec.value)
    assert (pos.ts, pos.lat, pos.accuracy_m, pos.speed_mps) == (ts, 51.5, 12.3, 8.0)
    topic, body = position_message("eng-2", ts + 700, owntracks=True, lat=51.5, lon=-0.12,
                                   acc=12.3, speed=8.0, heading=90.0, battery=77.0)
    assert topic == "owntracks/eng-2/phone"
    rec = owntracks.parse(topic, json.dumps(body).encode(), ts,
                          owntracks.OwnTracksDirectory({"eng-2/phone": "eng-2"}))
    pos = decode(Position, rec.value)
    assert pos.engineer_id == "eng-2" and pos.ts == ts and abs(pos.speed_mps - 8.0) < 0.2


def test_the_bridge_accepts_device_readings() -> None:
    d = DeviceSim(Asset("a", "s", ASSET_MODELS[0].id, "dev-1", ""), ASSET_MODELS[0],
                  random.Random(1))
    ts = 1_795_425_600_000
    rec = native.parse_reading("dev-1", json.dumps({"ts": ts, "metrics": d.reading(ts)}).encode(),
                               ts)
    assert set(decode(Reading, rec.value).metrics) == {"temperature", "vibration_rms"}


def test_a_withdrawn_order_leaves_the_queue_and_can_come_back() -> None:
    sc = build_scenario(ScenarioOptions(engineers=1, sites=2, devices=2, seed=3),
                        1_795_425_600_000)
    phone = Phone(sc.engineers[0], sc, cast(Any, None), cast(Any, None),
                  Truth(started_ms=sc.start_ms), on_completed=lambda _o, _t: None)
    phone.queue = [{"id": "WO-1", "priority": "P4"}, {"id": "WO-2", "priority": "P2"}]
    phone.known = {"WO-1", "WO-2"}
    phone.on_withdrawn({"type": "withdrawn", "work_order_id": "WO-1", "reason": "pre-empted"})
    assert [o["id"] for o in phone.queue] == ["WO-2"] and phone.known == {"WO-2"}
