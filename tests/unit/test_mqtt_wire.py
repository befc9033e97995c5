"""The bridge's MQTT 3.1.1 wire code: packet builders and the incremental parser.

Property: any sequence of packets, cut into chunks anywhere, parses back into the same
PUBLISHes (topic, payload, QoS, packet id), in order, and the same control packets.
"""

from __future__ import annotations

import itertools
import socket
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.mqtt_wire import (
    CONNACK,
    PINGRESP,
    SUBACK,
    PacketReader,
    ProtocolError,
    Session,
    connect_packet,
    puback_packets,
    publish_packet,
    subscribe_packet,
    varlen,
)


def _publish(topic: str, payload: bytes, qos: int, mid: int) -> bytes:
    head = len(topic.encode()).to_bytes(2, "big") + topic.encode()
    body = head + (mid.to_bytes(2, "big") if qos else b"") + payload
    return bytes((0x30 | qos << 1,)) + varlen(len(body)) + body


publishes = st.tuples(
    st.text(min_size=1, max_size=40),
    st.binary(max_size=300),
    st.sampled_from([0, 1]),
    st.integers(1, 65535),
).map(lambda t: ("pub", t[0], t[1], t[2], t[3] if t[2] else 0))
controls = st.sampled_from([("ctl", PINGRESP, b""), ("ctl", SUBACK, b"\x00\x01\x01")])


def _encode(packet: tuple) -> bytes:  # type: ignore[type-arg]
    if packet[0] == "pub":
        return _publish(*packet[1:])
    kind, body = packet[1], packet[2]
    return bytes((kind << 4,)) + varlen(len(body)) + body


@given(st.lists(st.one_of(publishes, controls), max_size=30), st.lists(st.integers(1, 400)))
def test_any_chunking_parses_back_the_same_packets(packets: list, cuts: list[int]) -> None:  # type: ignore[type-arg]
    stream = b"".join(_encode(p) for p in packets)
    reader = PacketReader()
    got: list[tuple] = []  # type: ignore[type-arg]
    bounds = [0]
    for cut in cuts:
        bounds.append(min(len(stream), bounds[-1] + cut))
    bounds.append(len(stream))
    def on_publish(topic: str, payload: bytes, qos: int, mid: int) -> None:
        got.append(("pub", topic, payload, qos, mid))

    for start, end in itertools.pairwise(bounds):
        controls = reader.feed(stream[start:end], on_publish)
        got.extend(("ctl", ctl.kind, ctl.body) for ctl in controls)
    # PUBLISHes in order; control packets in order (returned after each chunk's PUBLISHes)
    assert [g for g in got if g[0] == "pub"] == [p for p in packets if p[0] == "pub"]
    assert [g for g in got if g[0] == "ctl"] == [p for p in packets if p[0] == "ctl"]
    assert reader.buffered == 0


@given(st.integers(0, 268_435_455))
def test_varlen_round_trip(n: int) -> None:
    encoded = varlen(n)
    assert 1 <= len(encoded) <= 4
    value = sum((b & 0x7F) << (7 * i) for i, b in enumerate(encoded))
    assert value == n and not encoded[-1] & 0x80


def test_builders_match_the_spec() -> None:
    assert connect_packet("c", clean_session=False, keepalive=30) == (
        b"\x10\x0d\x00\x04MQTT\x04\x00\x00\x1e\x00\x01c"
    )
    with_auth = connect_packet("c", clean_session=True, keepalive=5, username="u",
                               password="p")
    assert with_auth[9] == 0x80 | 0x40 | 0x02 and with_auth.endswith(b"\x00\x01u\x00\x01p")
    assert subscribe_packet(1, [("a/+", 1)]) == b"\x82\x08\x00\x01\x00\x03a/+\x01"
    assert publish_packet("t", b"x") == b"\x30\x04\x00\x01tx"
    assert puback_packets([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"


def test_malformed_packets_raise_protocol_errors() -> None:
    with pytest.raises(ProtocolError):
        PacketReader().feed(b"\x30\xff\xff\xff\xff\x01", lambda *a: None)  # 5 length bytes
    with pytest.raises(ProtocolError):  # topic length beyond the packet
        PacketReader().feed(b"\x32\x03\x00\x09a", lambda *a: None)
    with pytest.raises(ProtocolError):
        PacketReader(max_packet=10).feed(b"\x30\x20", lambda *a: None)


def test_connack_is_returned_as_a_control_packet() -> None:
    [ctl] = PacketReader().feed(b"\x20\x02\x00\x05", lambda *a: None)
    assert (ctl.kind, ctl.body) == (CONNACK, b"\x00\x05")


def test_keepalive_drops_a_silent_broker_but_not_a_reader_held_up_by_backpressure() -> None:
    ours, theirs = socket.socketpair()
    with theirs:
        s = Session("127.0.0.1", 1, "c", [], lambda *a: None, keepalive=10)
        s._sock = ours
        s._last_send = s._last_recv = time.monotonic() - 60  # a minute without a byte
        s._handling = True  # on_message blocked on a full Kafka queue: not read, not silent
        s.tick()
        assert s._sock is ours
        assert theirs.recv(2) == b"\xc0\x00"  # still pinging the broker meanwhile
        s._handling = False  # back to waiting on the broker, which says nothing
        s.tick()
        assert s._sock is None
