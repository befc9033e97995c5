"""MQTT 3.1.1 packets for the bridge's session (pure: bytes in, packets out, no I/O).

:class:`PacketReader` parses a byte stream cut anywhere into PUBLISHes and control
packets; a PUBLISH above its limit is read past without being held (a running SHA-256
and its first :data:`HEAD_BYTES`) and reported once, so the bridge can dead-letter it.
The ``*_packet`` builders make what the session sends. :mod:`ingest.mqtt_wire` owns the
socket.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

CONNECT, CONNACK, PUBLISH, PUBACK = 1, 2, 3, 4
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 8, 9, 12, 13, 14
MAX_PACKET = 268_435_455  # the largest remaining length MQTT can encode
_PUBACK_HEAD = bytes((PUBACK << 4, 2))
_PINGREQ = bytes((PINGREQ << 4, 0))
_DISCONNECT = bytes((DISCONNECT << 4, 0))
CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


class ProtocolError(ConnectionError):
    """The broker sent something this session cannot accept; reconnect."""


def varlen(n: int) -> bytes:
    """MQTT's variable-length integer (remaining length)."""
    if not 0 <= n <= MAX_PACKET:
        raise ValueError(f"remaining length {n} out of range")
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _utf8(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


def connect_packet(
    client_id: str,
    *,
    clean_session: bool,
    keepalive: int,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    flags = 0x02 if clean_session else 0
    payload = _utf8(client_id)
    if username is not None:
        flags |= 0x80
        payload += _utf8(username)
        if password is not None:
            flags |= 0x40
            payload += _utf8(password)
    body = _utf8("MQTT") + bytes((4, flags)) + keepalive.to_bytes(2, "big") + payload
    return bytes((CONNECT << 4,)) + varlen(len(body)) + body


def subscribe_packet(mid: int, topics: Iterable[tuple[str, int]]) -> bytes:
    body = mid.to_bytes(2, "big") + b"".join(_utf8(t) + bytes((qos,)) for t, qos in topics)
    return bytes((SUBSCRIBE << 4 | 0x02,)) + varlen(len(body)) + body


def publish_packet(topic: str, payload: bytes) -> bytes:
    """A QoS 0 PUBLISH (the bridge's commands need no acknowledgement)."""
    body = _utf8(topic) + payload
    return bytes((PUBLISH << 4,)) + varlen(len(body)) + body


def puback_packets(mids: Iterable[int]) -> bytes:
    """PUBACKs for many messages in one buffer (one socket write)."""
    return b"".join(_PUBACK_HEAD + mid.to_bytes(2, "big") for mid in mids)


MessageHandler = Callable[[str, bytes, int, int], None]
# An oversized PUBLISH, never held whole: topic, first bytes, size, sha256 hex, qos, mid.
OversizeHandler = Callable[[str, bytes, int, str, int, int], None]
HEAD_BYTES = 4096  # how much of an oversized payload is kept for its dead letter


@dataclass(slots=True)
class _Skipping:
    """An oversized PUBLISH being read past: hashed and counted, its head kept."""

    topic: str
    qos: int
    mid: int
    size: int  # of the payload
    head: bytearray
    hasher: Any
    remaining: int  # bytes of the packet still to come

    def take(self, data: bytes | bytearray | memoryview) -> int:
        n = min(len(data), self.remaining)
        chunk = data[:n]
        self.hasher.update(chunk)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self.remaining -= n
        return n


@dataclass(frozen=True, slots=True)
class Control:
    """Any packet other than PUBLISH: its type and body."""

    kind: int
    body: bytes


class PacketReader:
    """Incremental MQTT packet parser: ``feed`` bytes as they arrive; each whole PUBLISH
    goes to ``on_publish(topic, payload, qos, mid)`` (mid 0 for QoS 0), the other packets
    are returned. Partial packets wait for the next ``feed``."""

    def __init__(self, max_packet: int = MAX_PACKET) -> None:
        # A bytearray: a large packet arriving in many reads is appended (amortised O(1))
        # instead of re-copied on every read.
        self._buf = bytearray()
        self.max_packet = max_packet
        self._skip: _Skipping | None = None

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(
        self, data: bytes, on_publish: MessageHandler, on_oversize: OversizeHandler | None = None
    ) -> list[Control]:
        """Parse what ``data`` completes. A PUBLISH above ``max_packet`` goes, once read
        past, to ``on_oversize`` (with its head, size and SHA-256) and is never buffered
        whole; without ``on_oversize`` it is a :class:`ProtocolError`, as any other
        oversized packet is."""
        if self._skip is not None:
            skip = self._skip
            used = skip.take(data)
            if skip.remaining:
                return []
            self._skip = None
            assert on_oversize is not None
            on_oversize(skip.topic, bytes(skip.head), skip.size, skip.hasher.hexdigest(),
                        skip.qos, skip.mid)
            data = data[used:]
        buf = self._buf
        buf += data
        size = len(buf)
        pos = 0
        controls: list[Control] = []
        try:
            while size - pos >= 2:
                first = buf[pos]
                length = 0  # remaining length: 1..4 bytes of 7 bits
                shift = 0
                i = pos + 1
                while i < size:
                    byte = buf[i]
                    length |= (byte & 0x7F) << shift
                    i += 1
                    if not byte & 0x80:
                        break
                    shift += 7
                    if shift > 21:
                        raise ProtocolError("malformed remaining length")
                else:
                    break  # the length itself is not complete yet
                if length > self.max_packet:
                    if first >> 4 != PUBLISH or on_oversize is None:
                        raise ProtocolError(f"packet of {length} bytes exceeds {self.max_packet}")
                    skipped = self._start_skip(buf, first, i, length, size)
                    if skipped is None:
                        break  # its topic is not complete yet
                    pos = skipped
                    if self._skip is not None:
                        if self._skip.remaining:
                            break  # the rest of it comes in later reads
                        skip, self._skip = self._skip, None
                        on_oversize(skip.topic, bytes(skip.head), skip.size,
                                    skip.hasher.hexdigest(), skip.qos, skip.mid)
                    continue
                end = i + length
                if end > size:
                    break
                if first >> 4 == PUBLISH:
                    qos = (first >> 1) & 0x03
                    start = i + 2 + (buf[i] << 8 | buf[i + 1])
                    if qos:
                        body_at = start + 2
                        mid = buf[start] << 8 | buf[start + 1] if body_at <= end else 0
                    else:
                        body_at, mid = start, 0
                    if body_at > end or qos == 3 or length < 2:
                        raise ProtocolError("malformed PUBLISH")
                    pos = end
                    on_publish(buf[i + 2 : start].decode("utf-8", "replace"),
                               bytes(buf[body_at:end]), qos, mid)
                else:
                    controls.append(Control(first >> 4, bytes(buf[i:end])))
                    pos = end
        finally:
            del buf[:pos]
        return controls


    def _start_skip(
        self, buf: bytearray, first: int, i: int, length: int, size: int
    ) -> int | None:
        """Begin reading past an oversized PUBLISH whose body starts at ``i``; returns
        the buffer position consumed, or None while its topic and id are incomplete."""
        qos = (first >> 1) & 0x03
        if size - i < 2:
            return None
        header = 2 + (buf[i] << 8 | buf[i + 1]) + (2 if qos else 0)
        if header > length or qos == 3:
            raise ProtocolError("malformed PUBLISH")
        if size - i < header:
            return None
        topic_end = i + header - (2 if qos else 0)
        mid = buf[topic_end] << 8 | buf[topic_end + 1] if qos else 0
        skip = _Skipping(
            topic=buf[i + 2 : topic_end].decode("utf-8", "replace"), qos=qos, mid=mid,
            size=length - header, head=bytearray(), hasher=hashlib.sha256(),
            remaining=length - header,
        )
        start = i + header
        used = skip.take(buf[start:size])
        self._skip = skip
        return start + used
