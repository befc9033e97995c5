"""Fuzz: thousands of random and malformed payloads on random topics.

Property: ``Router.route`` never raises, and every message ends either as records on
the topic its adapter owns (decodable into the model) or as exactly one dead letter
that carries the topic, the raw payload and a non-empty reason.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.owntracks import OwnTracksDirectory
from ingest.ratelimit import RateLimiter
from ingest.router import Router, RouteResult
from ingest.routing import DEAD_LETTER_HEAD_BYTES, TOPIC_POSITIONS, TOPIC_READINGS
from ingest.sparkplug_codec import MetricSpec, encode_birth, encode_payload
from models.codec import decode
from models.messages import ID_PATTERN, Position, Reading

T0 = 1_750_000_000_000
IDS = st.sampled_from(["e1", "pump-7", "jane", "nokia", "n1", "d1", "", "bad id", "x" * 70, "+"])
SEGMENT = st.one_of(IDS, st.text(max_size=12))
NICE_TOPIC = st.sampled_from(["fieldflow/engineers/e1/location", "fieldflow/devices/d1/telemetry",
                              "owntracks/jane/nokia", "owntracks/e1/d1/event"])
TOPIC = st.one_of(
    NICE_TOPIC,
    st.builds(lambda i: f"fieldflow/engineers/{i}/location", IDS),
    st.builds(lambda i: f"fieldflow/devices/{i}/telemetry", IDS),
    st.builds(lambda u, d: f"owntracks/{u}/{d}", IDS, IDS),
    st.builds(lambda u, d: f"owntracks/{u}/{d}/event", IDS, IDS),
    st.builds(
        lambda g, k, n, d: "/".join(["spBv1.0", g, k, n] + ([d] if d else [])),
        IDS,
        st.sampled_from(["NBIRTH", "NDATA", "NDEATH", "DBIRTH", "DDATA", "DDEATH", "NCMD", "X"]),
        IDS,
        st.one_of(st.none(), IDS),
    ),
    st.lists(SEGMENT, min_size=1, max_size=6).map("/".join),
)
SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.text(max_size=20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(T0 - 10**10, T0 + 10**10), st.floats(-200, 200),
)
JSON_VALUE = st.recursive(
    SCALAR, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                        max_size=4), max_leaves=12
)
KEYS = st.sampled_from(["_type", "ts", "tst", "lat", "lon", "acc", "vel", "cog", "batt", "spd",
                        "hdg", "metrics", "event"])
TYPES = st.sampled_from(["location", "transition", "lwt", "waypoint", "cmd", 7, None])
DOCS = st.fixed_dictionaries(
    {"_type": TYPES, "ts": SCALAR, "tst": SCALAR, "lat": SCALAR, "lon": SCALAR,
     "event": st.sampled_from(["enter", "leave", "?"]),
     "metrics": st.one_of(JSON_VALUE, st.dictionaries(st.text(max_size=70), SCALAR, max_size=5))},
    optional={"acc": SCALAR, "vel": SCALAR, "cog": SCALAR, "batt": SCALAR},
) | st.dictionaries(KEYS, JSON_VALUE, max_size=8)

# Near-valid documents (one field maybe broken) so the accept paths are fuzzed too.
VALID = st.fixed_dictionaries(
    {"_type": st.sampled_from(["location", "transition"]),
     "ts": st.integers(T0 - 10**9, T0 + 10**9),
     "tst": st.integers(T0 // 1000, T0 // 1000 + 10**6),
     "lat": st.floats(-90, 90), "lon": st.floats(-180, 180), "event": st.just("enter"),
     "metrics": st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True),
                                st.floats(-1e9, 1e9), min_size=1, max_size=5)},
    optional={"acc": st.floats(0, 500), "vel": st.integers(-1, 300), "cog": st.floats(0, 720),
              "batt": st.integers(-1, 100), "spd": st.floats(0, 60), "hdg": st.floats(0, 360)},
)
NEAR_VALID = st.builds(lambda d, k, v, broken: {**d, k: v} if broken else d,
                       VALID, KEYS, SCALAR, st.booleans())


def _json(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


METRICS = st.lists(
    st.builds(MetricSpec, st.one_of(st.none(), st.text(max_size=70), st.just("bdSeq")),
              st.one_of(st.none(), st.integers(0, 20)),
              st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1),
                        st.floats(), st.text(max_size=5)),
              st.none(), st.one_of(st.none(), st.integers(0, 2**40 + T0))),
    max_size=6,
)
SPARKPLUG = st.builds(
    lambda m, ts, seq: encode_payload(m, timestamp=ts, seq=seq), METRICS,
    st.one_of(st.none(), st.integers(T0 - 1000, T0 + 1000), st.integers(0, 2**64 - 1)),
    st.one_of(st.none(), st.integers(0, 300)),
) | st.builds(lambda v: encode_birth(v, timestamp=T0, bd_seq=0),
              st.dictionaries(st.text(max_size=10), st.floats(), max_size=4))
PAYLOAD = st.one_of(
    st.binary(max_size=300), DOCS.map(_json), NEAR_VALID.map(_json), NEAR_VALID.map(_json),
    JSON_VALUE.map(_json), SPARKPLUG,
    st.builds(lambda b, cut: b[:cut], SPARKPLUG, st.integers(0, 40)),
    st.just(b"{" * 5000), st.just(b" " * 70_000),
)

ROUTER = Router(
    OwnTracksDirectory({"jane/nokia": "e1", "e1/d1": "e1"}),
    limiter=RateLimiter(rate_per_s=100, burst=1000),
)
ID_RE = re.compile(ID_PATTERN)


def check(topic: str, payload: bytes, result: RouteResult) -> None:
    assert bool(result.records) != (result.dead is not None), result
    for cmd_topic, cmd_payload in result.commands:
        assert re.match(r"^spBv1\.0/[^/]+/NCMD/[^/]+$", cmd_topic) and cmd_payload
    if result.dead is not None:
        assert result.dead.reason.strip()
        assert result.dead_kind is not None
        assert result.dead.topic == topic[:512]
        assert base64.b64decode(result.dead.payload_b64) == payload[:DEAD_LETTER_HEAD_BYTES]
        if len(payload) > DEAD_LETTER_HEAD_BYTES:
            assert f"payload of {len(payload)} bytes, sha256 " in result.dead.reason
        return
    expected = TOPIC_POSITIONS if topic.startswith(("fieldflow/engineers/", "owntracks/")) \
        else TOPIC_READINGS
    for record in result.records:
        assert record.topic == expected and ID_RE.fullmatch(record.key)
        model = decode(Position if expected == TOPIC_POSITIONS else Reading, record.value)
        assert record.key == getattr(model, "engineer_id", None) or record.key == getattr(
            model, "device_id", None)


@settings(max_examples=4000, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(topic=TOPIC, payload=PAYLOAD, offset=st.integers(0, 10**6))
def test_every_message_is_records_or_one_dead_letter(
    topic: str, payload: bytes, offset: int
) -> None:
    result = ROUTER.route(topic, payload, T0 + offset)
    check(topic, payload, result)


@settings(max_examples=300, deadline=None)
@given(topic=st.text(max_size=300), payload=st.binary(max_size=64),
       received_at=st.one_of(st.integers(), st.none(), st.text(max_size=3)))
def test_never_raises_even_on_bad_arguments(topic: str, payload: bytes, received_at: Any) -> None:
    result = ROUTER.route(topic, payload, received_at)
    assert bool(result.records) != (result.dead is not None)
    assert result.dead is None or result.dead.reason
