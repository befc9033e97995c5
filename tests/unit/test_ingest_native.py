"""Native JSON adapter and router topic handling (DESIGN.md §5, §8)."""

from __future__ import annotations

import pytest

from ingest.router import Router, route
from ingest.routing import TOPIC_POSITIONS, TOPIC_READINGS, Outgoing, RejectKind
from models.codec import decode
from models.messages import DeadLetter, Position, Reading

NOW = 1_750_000_000_000


def test_native_position_ms_and_iso() -> None:
    router = Router()
    for ts in (1_750_000_000_123, '"2025-06-15T15:06:40.123Z"'):
        payload = f'{{"ts": {ts}, "lat": 51.5, "lon": -0.12, "spd": 3.5, "batt": 80}}'.encode()
        result = router.route("fieldflow/engineers/e1/location", payload, NOW)
        [rec] = result.records
        assert rec.topic == TOPIC_POSITIONS and rec.key == "e1"
        pos = decode(Position, rec.value)
        assert pos.ts == 1_750_000_000_123
        assert pos.speed_mps == 3.5


def test_native_reading() -> None:
    payload = b'{"ts": 1750000000000, "metrics": {"temp_c": 71.5, "vib_rms": 0.4}}'
    [rec] = Router().route("fieldflow/devices/pump-1/telemetry", payload, NOW).records
    assert rec.topic == TOPIC_READINGS and rec.key == "pump-1"
    assert decode(Reading, rec.value).metrics == {"temp_c": 71.5, "vib_rms": 0.4}


@pytest.mark.parametrize(
    ("topic", "payload", "kind"),
    [
        ("fieldflow/engineers/e1/location", b'{"ts":1750000000000,"lat":1e999,"lon":0}',
         RejectKind.INVALID),  # parses to inf: not finite
        ("fieldflow/engineers/e1/location", b'{"ts":1750000000000,"lat":200,"lon":0}',
         RejectKind.INVALID),
        ("fieldflow/engineers/e1/location", b'{"ts":"yesterday","lat":1,"lon":0}',
         RejectKind.INVALID),
        ("fieldflow/devices/d1/telemetry", b'{"ts":1750000000000,"metrics":{"a":true}}',
         RejectKind.INVALID),
        ("fieldflow/devices/d1/telemetry", b'{"ts":1750000000000,"metrics":{"a":"1"}}',
         RejectKind.INVALID),
        ("fieldflow/devices/d1/telemetry", b'{"ts":1750000000000,"metrics":[]}',
         RejectKind.INVALID),
        ("fieldflow/devices/d1/telemetry", b"{" + b" " * 70_000 + b"}", RejectKind.TOO_LARGE),
        ("fieldflow/devices/bad id/telemetry", b"{}", RejectKind.NO_ROUTE),
        ("fieldflow/other/x/y", b"{}", RejectKind.NO_ROUTE),
        ("a" * 300, b"{}", RejectKind.NO_ROUTE),
    ],
)
def test_rejections(topic: str, payload: bytes, kind: RejectKind) -> None:
    result = Router().route(topic, payload, NOW)
    assert result.records == []
    assert result.dead is not None and result.dead.reason
    assert result.dead_kind is kind


def test_module_level_route_still_works() -> None:
    good = route("fieldflow/devices/d1/telemetry", b'{"ts":1750000000000,"metrics":{"a":1}}', NOW)
    assert isinstance(good, list) and isinstance(good[0], Outgoing)
    bad = route("nowhere", b"x", NOW)
    assert isinstance(bad, DeadLetter) and bad.reason


def test_internal_errors_become_dead_letters(monkeypatch: pytest.MonkeyPatch) -> None:
    router = Router()

    def boom(*_a: object) -> None:
        raise RuntimeError("kaboom")

    monkeypatch.setattr("ingest.native.parse_reading", boom)
    result = router.route("fieldflow/devices/d1/telemetry", b"{}", NOW)
    assert result.dead is not None
    assert result.dead.reason.startswith("internal: RuntimeError")
    assert result.dead_kind is RejectKind.INTERNAL


@pytest.mark.parametrize(("ahead_s", "kind"), [(3600, None), (86_400, None),
                                               (86_401, RejectKind.INVALID)])
def test_event_times_far_ahead_of_the_bridge_clock_are_refused(
        ahead_s: int, kind: RejectKind | None) -> None:
    ts = NOW + ahead_s * 1000
    for topic, payload in (
        ("fieldflow/engineers/e1/location", f'{{"ts": {ts}, "lat": 51.5, "lon": -0.1}}'),
        ("fieldflow/devices/d1/telemetry", f'{{"ts": {ts}, "metrics": {{"t": 1}}}}'),
    ):
        result = Router().route(topic, payload.encode(), NOW)
        if kind is None:
            assert result.dead is None and result.records[0].ts == ts
        else:
            assert result.dead is not None and result.dead_kind == kind
            assert "ahead of the bridge clock" in result.dead.reason and not result.records


def test_dead_letter_with_a_lone_surrogate_is_still_encodable() -> None:
    # Found by the e2e fuzz: a JSON escape "\ud961" quoted in the reason broke the encoder.
    result = Router().route("fieldflow/engineers/e1/location",
                            b'{"ts": "\\ud961", "lat": 1, "lon": 2}', NOW)
    assert result.dead is not None
    from models.codec import encode

    letter = decode(DeadLetter, encode(result.dead))
    assert "ud961" in letter.reason
