"""Oversized PUBLISHes: read past (never buffered whole), reported once with their size,
SHA-256 and head, while the packets around them parse as usual, however the stream is cut."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.mqtt_wire import HEAD_BYTES, PINGRESP, PacketReader, ProtocolError, varlen

LIMIT = 600


def _publish(topic: str, payload: bytes, qos: int, mid: int) -> bytes:
    head = len(topic.encode()).to_bytes(2, "big") + topic.encode()
    body = head + (mid.to_bytes(2, "big") if qos else b"") + payload
    return bytes((0x30 | qos << 1,)) + varlen(len(body)) + body


packets = st.lists(
    st.one_of(
        st.tuples(st.text(min_size=1, max_size=20), st.binary(max_size=200),
                  st.sampled_from([0, 1]), st.integers(1, 65535)),
        # oversized: payloads from just above the limit to several times the head size
        st.tuples(st.text(min_size=1, max_size=20),
                  st.integers(LIMIT, 3 * HEAD_BYTES).map(lambda n: bytes(range(256)) * (n // 256)
                                                         + b"x" * (n % 256)),
                  st.sampled_from([0, 1]), st.integers(1, 65535)),
        st.just(("ping", b"", 0, 0)),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(packets, st.lists(st.integers(1, 5000)))
def test_oversized_publishes_are_reported_once_and_the_rest_parse(
    items: list[tuple[str, bytes, int, int]], cuts: list[int]
) -> None:
    stream = b"".join(bytes((PINGRESP << 4, 0)) if t == "ping" else
                      _publish(t, p, q, m) for t, p, q, m in items)
    reader = PacketReader(max_packet=LIMIT)
    normal: list[tuple[str, bytes, int, int]] = []
    big: list[tuple[str, bytes, int, str, int, int]] = []
    pings = 0
    bounds = [0]
    for cut in cuts:
        bounds.append(min(len(stream), bounds[-1] + cut))
    bounds.append(len(stream))
    for start, end in itertools.pairwise(bounds):
        pings += len(reader.feed(stream[start:end],
                                 lambda *a: normal.append(a),
                                 lambda *a: big.append(a)))
        assert reader.buffered <= 5 + LIMIT  # at most one partial packet within the limit
    expected_big = []
    expected_normal = []
    for t, p, q, m in items:
        if t == "ping":
            continue
        size = 2 + len(t.encode()) + (2 if q else 0) + len(p)
        if size > LIMIT:
            expected_big.append((t, p[:HEAD_BYTES], len(p), hashlib.sha256(p).hexdigest(), q,
                                 m if q else 0))
        else:
            expected_normal.append((t, p, q, m if q else 0))
    assert big == expected_big
    assert normal == expected_normal
    assert pings == sum(1 for t, *_ in items if t == "ping")
    assert reader.buffered == 0


def test_without_a_handler_an_oversized_packet_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError):
        PacketReader(max_packet=10).feed(_publish("t", b"x" * 20, 0, 0), lambda *a: None)
