"""OwnTracks adapter against the booklet's own example payloads (tests/unit/data/owntracks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest.owntracks import OwnTracksDirectory
from ingest.router import Router
from ingest.routing import TOPIC_POSITIONS, RejectKind
from models.codec import decode
from models.messages import Position, Source

DATA = Path(__file__).parent / "data" / "owntracks" / "examples.jsonl"
EXAMPLES = [line.encode() for line in DATA.read_text().splitlines()]
NOW = 1_750_000_000_000


@pytest.fixture
def router() -> Router:
    return Router(OwnTracksDirectory({"jane/nokia": "eng-7", "jane/iphone": "eng-8"}))


def position(router: Router, topic: str, payload: bytes) -> Position:
    result = router.route(topic, payload, NOW)
    assert result.dead is None, result.dead
    [record] = result.records
    assert record.topic == TOPIC_POSITIONS
    pos = decode(Position, record.value)
    assert record.key == pos.engineer_id
    return pos


def test_location_from_quicksetup(router: Router) -> None:
    pos = position(router, "owntracks/jane/nokia", EXAMPLES[0])
    assert pos.engineer_id == "eng-7"
    assert pos.ts == 1706856298_000
    assert (pos.lat, pos.lon) == (48.856826, 2.292713)
    assert pos.battery == 53
    assert pos.speed_mps == 0
    assert pos.source is Source.OWNTRACKS
    assert pos.received_at == NOW


def test_ios_location_converts_kmh_and_course(router: Router) -> None:
    pos = position(router, "owntracks/jane/iphone", EXAMPLES[1])
    assert pos.speed_mps == pytest.approx(61 / 3.6, abs=1e-3)
    assert pos.heading == 271
    assert pos.accuracy_m == 5
    assert pos.battery == 41


def test_minimal_location(router: Router) -> None:
    pos = position(router, "owntracks/jane/nokia", EXAMPLES[2])
    assert pos.ts == 1497476456_000
    assert pos.accuracy_m is None and pos.speed_mps is None


@pytest.mark.parametrize("line", [3, 4])
def test_transitions_become_position_fixes(router: Router, line: int) -> None:
    example = json.loads(EXAMPLES[line])
    pos = position(router, "owntracks/jane/nokia/event", EXAMPLES[line])
    assert (pos.lat, pos.lon) == (example["lat"], example["lon"])
    assert pos.ts == example["tst"] * 1000


@pytest.mark.parametrize(
    ("line", "topic"),
    [
        (5, "owntracks/jane/nokia/waypoint"),
        (6, "owntracks/jane/nokia/cmd"),
        (7, "owntracks/jane/nokia/cmd"),
        (8, "owntracks/jane/nokia/step"),
    ],
)
def test_non_telemetry_types_are_dead_lettered_with_reason(
    router: Router, line: int, topic: str
) -> None:
    result = router.route(topic, EXAMPLES[line], NOW)
    assert result.records == []
    assert result.dead is not None
    assert result.dead.reason.startswith("unsupported OwnTracks _type")
    assert result.dead_kind is RejectKind.UNSUPPORTED


def test_lwt_is_dead_lettered_not_dropped(router: Router) -> None:
    result = router.route("owntracks/jane/nokia", b'{"_type":"lwt","tst":1706856298}', NOW)
    assert result.dead is not None and "lwt" in result.dead.reason


def test_unknown_device(router: Router) -> None:
    result = router.route("owntracks/bob/phone", EXAMPLES[0], NOW)
    assert result.dead is not None
    assert result.dead.reason.startswith("unknown OwnTracks device")
    assert result.dead_kind is RejectKind.UNKNOWN_DEVICE


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (b'{"_type":"location","lat":91,"lon":2,"tst":1706856298}', "lat"),
        (b'{"_type":"location","lat":true,"lon":2,"tst":1706856298}', "lat"),
        (b'{"_type":"location","lat":1,"lon":2}', "tst"),
        (b'{"_type":"location","lat":1,"lon":2,"tst":12}', "ts"),
        (b'{"_type":"location","lat":"x","lon":2,"tst":1706856298}', "lat"),
        (b'{"_type":"transition","lat":1,"lon":2,"tst":1706856298,"event":"?"}', "event"),
        (b'{"_type":"transition","event":"enter","tst":1706856298}', "lat"),
        (b"[1,2]", "object"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_invalid_payloads(router: Router, payload: bytes, fragment: str) -> None:
    result = router.route("owntracks/jane/nokia", payload, NOW)
    assert result.records == []
    assert result.dead is not None and fragment in result.dead.reason


def test_numeric_strings_and_unknown_sentinels(router: Router) -> None:
    payload = b'{"_type":"location","lat":"48.5","lon":"2","tst":"1706856298","vel":-1,"acc":-1}'
    pos = position(router, "owntracks/jane/nokia", payload)
    assert (pos.lat, pos.lon, pos.ts) == (48.5, 2.0, 1706856298_000)
    assert pos.speed_mps is None and pos.accuracy_m is None


def test_directory_rejects_bad_config() -> None:
    with pytest.raises(ValueError, match="user/device"):
        OwnTracksDirectory({"jane": "eng-1"})
    with pytest.raises(ValueError, match="engineer id"):
        OwnTracksDirectory({"jane/phone": "bad id!"})
    assert len(Router.from_settings({"jane/phone": "eng-1"}).owntracks) == 1
