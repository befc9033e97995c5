"""Traccar Client / OsmAnd adapter against the requests Traccar's own decoder test feeds.

The query strings and JSON bodies below are those of traccar/traccar
``src/test/java/org/traccar/protocol/OsmAndProtocolDecoderTest.java`` (commit 9e5c458,
2026-08-21: ``testDecodeQuery`` and ``testDecodeJson``); the JSON shape is the location
template traccar/traccar-client ``lib/preferences.dart`` configures (``device_id`` at the
root, ``location.coords``/``battery``). Traccar's decoder reads ``speed`` as knots in the
query and m/s in JSON, ``timestamp`` below 2^31 as seconds and above as milliseconds, and
``-1`` as "unknown" for speed, heading and battery level; so does ours.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest import osmand
from ingest.routing import TOPIC_POSITIONS, Rejected, RejectKind
from models.codec import decode
from models.messages import Position, Source

NOW = 1_765_000_000_000

QUERIES = [
    "id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0"
    "&altitude=224.0&speed=0.0",
    "id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0"
    "&speed=0.0",
    "lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0"
    "&id=353861053849681",
    "id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0"
    "&hdop=0.0",
    "id=123456&timestamp=1377177267&lat=60.0&lon=30.0",
    "lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0&altitude=0&deviceid=123456",
    "id=861001000719969&lat=41.666667&lon=-0.883333&altitude=350.059479&speed=0.000000&batt=87",
    "id=123456&timestamp=1377177267&location=60.0,30.0",
    "id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571"
    "&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24",
]

JSON_BODIES = [
    '{"location":{"timestamp":"2025-06-15T13:45:12.862Z","coords":{"latitude":37.4219983,'
    '"longitude":-122.084,"accuracy":5,"speed":0,"heading":-1,"altitude":5},"is_moving":false,'
    '"odometer":0,"event":"motionchange","battery":{"level":1,"is_charging":false},'
    '"activity":{"type":"still"},"extras":{},"_":"&id=48241179&lat=37.4219983&lon=-122.084'
    '&timestamp=2025-06-15T13:45:12.862Z&"},"device_id":"48241179"}',
    '{"location":{"extras":{},"mock":true,"coords":{"speed_accuracy":-1,"speed":-1,'
    '"longitude":-122.406417,"ellipsoidal_altitude":0,"floor":null,"heading_accuracy":-1,'
    '"latitude":37.785834000000001,"accuracy":5,"altitude_accuracy":-1,"altitude":0,'
    '"heading":-1},"is_moving":false,"age":188,"odometer":0,"uuid":"2FB04C65-99CF-42AB-8DD3-'
    'EBCB4B108BF8","event":"motionchange","battery":{"level":-1,"is_charging":false},'
    '"activity":{"type":"unknown","confidence":100},"timestamp":"2025-05-09T04:11:30.579Z"},'
    '"device_id":"658765"}',
    '{"location":{"event":"motionchange","is_moving":false,"uuid":"0e9a2473-a9a7-4c00-997b-'
    'fb97d2154e75","timestamp":"2021-07-21T08:06:34.444Z","odometer":0,"coords":{"latitude":'
    '-6.1148096,"longitude":106.6837015,"accuracy":3.8,"speed":18.67,"speed_accuracy":0.26,'
    '"heading":63,"heading_accuracy":0.28,"altitude":35.7,"altitude_accuracy":3.8},"activity":'
    '{"type":"still","confidence":100},"battery":{"is_charging":false,"level":0.79},"extras":{}}'
    ',"device_id":"8737767034"}',
]


def record(req: osmand.OsmAndRequest, index: int = 0) -> Position:
    rec = osmand.to_record("eng-1", req.fixes[index], NOW)
    assert rec.topic == TOPIC_POSITIONS and rec.key == "eng-1"
    pos = decode(Position, rec.value)
    assert pos.source == Source.TRACCAR and pos.received_at == NOW
    return pos


@pytest.mark.parametrize("query", QUERIES)
def test_traccar_decoder_test_queries_become_positions(query: str) -> None:
    req = osmand.read_query(parse_qsl(query, keep_blank_values=True))
    assert req.tracker_id in {"902064", "353861053849681", "123456", "861001000719969",
                              "123456789012345"}
    pos = record(req)
    assert -90 <= pos.lat <= 90 and pos.ts > 0


def test_query_units_and_times() -> None:
    [a, b, c, d, e, f, g, h, i] = [osmand.read_query(parse_qsl(q)) for q in QUERIES]
    assert record(a).ts == 1453920947_000  # ISO-8601
    assert record(b).ts == 1442068686579  # epoch ms (above 2^31)
    assert record(c).ts == 1401873011_000  # "yyyy-MM-dd HH:mm:ss", taken as UTC
    assert record(d).ts == 1377177267_000  # epoch seconds
    assert record(f).ts == NOW  # no timestamp: the receive time, as Traccar does
    assert f.tracker_id == "123456"  # deviceid= is the same as id=
    assert record(g).battery == 87
    assert (record(h).lat, record(h).lon) == (60.0, 30.0)  # location=lat,lon
    pos = record(i)
    assert pos.speed_mps == pytest.approx(40 * 1852 / 3600, abs=1e-3)  # knots -> m/s
    assert pos.heading == pytest.approx(7.19889788244)
    assert record(e).speed_mps is None and record(e).heading is None


def test_traccar_client_json_bodies() -> None:
    first, second, third = (osmand.read_json(body.encode()) for body in JSON_BODIES)
    assert first.tracker_id == "48241179"
    pos = record(first)
    assert pos.ts == 1749995112862 and (pos.lat, pos.lon) == (37.4219983, -122.084)
    assert pos.speed_mps == 0 and pos.heading is None and pos.battery == 100.0
    assert pos.accuracy_m == 5
    pos = record(second)
    assert pos.speed_mps is None and pos.battery is None  # -1: unknown
    pos = record(third)
    assert pos.speed_mps == 18.67 and pos.heading == 63 and pos.battery == 79.0


def test_json_batch_of_locations() -> None:
    body = json.loads(JSON_BODIES[2])
    body["location"] = [body["location"], {**body["location"], "timestamp": "2021-07-21T08:07:00Z"}]
    req = osmand.read_json(json.dumps(body).encode())
    assert [record(req, i).ts for i in range(2)] == [1626854794444, 1626854820000]


@pytest.mark.parametrize(("query", "kind", "reason"), [
    ("timestamp=1377177267&lat=60.0&lon=30.0", RejectKind.UNKNOWN_DEVICE, "missing device id"),
    ("id=a/b&lat=1&lon=1", RejectKind.UNKNOWN_DEVICE, "bad device id"),
    ("", RejectKind.MALFORMED, "no parameters"),
    ("id=1&lat=north&lon=1", RejectKind.INVALID, "not a number"),
    ("id=1&lat=NaN&lon=1", RejectKind.INVALID, "finite"),
])
def test_bad_queries_are_rejected(query: str, kind: RejectKind, reason: str) -> None:
    with pytest.raises(Rejected) as err:
        osmand.read_query(parse_qsl(query, keep_blank_values=True))
    assert err.value.kind == kind and reason in str(err.value)


@pytest.mark.parametrize(("query", "reason"), [
    ("id=1&lon=30.0&timestamp=1377177267", "missing field 'lat'"),
    ("id=1&lat=200&lon=30.0&timestamp=1377177267", "lat"),
    ("id=1&lat=1&lon=1&timestamp=yesterday", "ts"),
])
def test_bad_fixes_are_rejected(query: str, reason: str) -> None:
    req = osmand.read_query(parse_qsl(query))
    with pytest.raises(Rejected) as err:
        osmand.to_record("eng-1", req.fixes[0], NOW)
    assert reason in str(err.value)


@pytest.mark.parametrize(("body", "kind"), [
    (b"not json", RejectKind.MALFORMED),
    (b"[]", RejectKind.MALFORMED),
    (b'{"location": {}}', RejectKind.UNKNOWN_DEVICE),
    (b'{"device_id": "1"}', RejectKind.INVALID),
    (b'{"device_id": "1", "location": {"timestamp": "2025-06-15T13:45:12Z"}}',
     RejectKind.INVALID),
    (b'{"device_id": "1", "location": {"coords": {"latitude": true}}}', RejectKind.INVALID),
])
def test_bad_json_is_rejected(body: bytes, kind: RejectKind) -> None:
    with pytest.raises(Rejected) as err:
        osmand.read_json(body)
    assert err.value.kind == kind


@given(st.dictionaries(st.sampled_from(["id", "lat", "lon", "timestamp", "speed", "bearing",
                                        "batt", "accuracy", "location", "deviceid"]),
                       st.text(max_size=30)))
def test_any_query_becomes_a_record_or_a_rejection(params: dict[str, str]) -> None:
    try:
        req = osmand.read_query(list(params.items()))
        osmand.to_record("eng-1", req.fixes[0], NOW)
    except Rejected:
        pass
