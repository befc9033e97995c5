"""A lean MQTT 3.1.1 subscriber session: the bridge's receive path.

paho spends most of the bridge's time on per-packet work (a ``select`` and several tiny
``recv`` calls per packet, an ``MQTTMessage`` object, locks, per-message acks). The
bridge needs little of MQTT: one persistent session (``clean_session`` off) subscribed at
QoS 1, PUBACKs sent only when Kafka confirmed a message, a few QoS 0 publishes (Sparkplug
rebirth requests), keepalive pings and reconnecting with backoff. This module does that:

- :class:`PacketReader` and the ``*_packet`` builders are pure (bytes in, packets out),
  unit-tested, with no I/O;
- :class:`Session` owns the socket: a reader thread that parses whole 256 KiB reads and
  hands each PUBLISH to ``on_message(topic, payload, qos, mid)``, and ``send`` (thread
  safe) for acks, commands and pings.

QoS 2 cannot arrive: the broker delivers at most the subscription's QoS (1).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("fieldflow.bridge.mqtt")

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


class Session:
    """One persistent MQTT session, kept up with reconnects (1 s .. 30 s backoff).

    ``on_message`` runs in the reader thread and may block (backpressure: while it
    blocks nothing more is read and the broker queues the rest). ``send`` may be called
    from any thread.
    """

    def __init__(
        self,
        host: str,
        port: int,
        client_id: str,
        subscriptions: Iterable[tuple[str, int]],
        on_message: MessageHandler,
        *,
        username: str | None = None,
        password: str | None = None,
        keepalive: int = 30,
        on_connect: Callable[[], None] | None = None,
        min_backoff: float = 1.0,
        max_backoff: float = 30.0,
        max_packet: int = MAX_PACKET,
        on_oversize: OversizeHandler | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.max_packet = max_packet
        self.on_oversize = on_oversize
        self.client_id = client_id
        self.subscriptions = list(subscriptions)
        self.on_message = on_message
        self.on_connect = on_connect
        self.username, self.password = username, password
        self.keepalive = keepalive
        self.min_backoff, self.max_backoff = min_backoff, max_backoff
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._last_send = self._last_recv = time.monotonic()
        # True while on_message runs: a reader held up by backpressure is not a silent broker
        self._handling = False
        self._thread: threading.Thread | None = None

    # -- sending (any thread) -------------------------------------------------
    def send(self, data: bytes) -> bool:
        """Write to the current connection; False when there is none (the caller's
        unacked messages will be redelivered by the broker after the reconnect)."""
        with self._lock:
            sock = self._sock
            if sock is None:
                return False
            try:
                sock.sendall(data)
            except OSError as exc:
                log.warning("MQTT write failed (%s); reconnecting", exc)
                self._drop(sock)
                return False
            self._last_send = time.monotonic()
            return True

    def ack(self, mids: list[int]) -> bool:
        return self.send(puback_packets(mids)) if mids else True

    def publish(self, topic: str, payload: bytes) -> bool:
        return self.send(publish_packet(topic, payload))

    def tick(self) -> None:
        """Keepalive: ping when nothing was sent for half the keepalive; drop the
        connection when the broker was silent for 1.5 keepalives while the reader was
        waiting for it (not while ``on_message`` held it up) (call often)."""
        if self._sock is None:
            return
        now = time.monotonic()
        if not self._handling and now - self._last_recv > self.keepalive * 1.5:
            log.warning("MQTT broker silent for %.0f s; reconnecting", now - self._last_recv)
            self._drop_current()
        elif now - self._last_send > self.keepalive / 2:
            self.send(_PINGREQ)

    def _drop_current(self) -> None:
        with self._lock:
            if self._sock is not None:
                self._drop(self._sock)

    def _drop(self, sock: socket.socket) -> None:
        """Close ``sock`` (lock held); the reader thread notices and reconnects."""
        if self._sock is sock:
            self._sock = None
            self.connected.clear()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="mqtt-reader", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.send(_DISCONNECT)
        self._drop_current()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        backoff = self.min_backoff
        while not self._stop.is_set():
            try:
                sock, reader, early = self._connect()
            except (OSError, ProtocolError) as exc:
                log.warning("MQTT connect to %s:%s failed (%s); retrying in %.0f s",
                            self.host, self.port, exc, backoff)
                self._stop.wait(backoff)
                backoff = min(self.max_backoff, backoff * 2)
                continue
            backoff = self.min_backoff
            try:
                self._read(sock, reader, early)
            except (OSError, ProtocolError) as exc:
                if not self._stop.is_set():
                    log.warning("MQTT connection lost (%s); reconnecting", exc)
            except Exception:  # a handler bug: reconnect, the broker redelivers
                log.exception("MQTT message handler failed; reconnecting")
            with self._lock:
                self._drop(sock)
            if not self._stop.is_set():
                self._stop.wait(self.min_backoff)

    def _connect(self) -> tuple[socket.socket, PacketReader, list[tuple[str, bytes, int, int]]]:
        """Connect, check the CONNACK, subscribe; messages read before the SUBACK (the
        session's queue) are returned for the read loop."""
        sock = socket.create_connection((self.host, self.port), timeout=10)
        early: list[tuple[str, bytes, int, int]] = []
        reader = PacketReader(self.max_packet)
        try:
            self._handshake(sock, reader, early)
        except BaseException:
            sock.close()
            raise
        sock.settimeout(1.0)
        with self._lock:
            self._sock = sock
            self._last_send = self._last_recv = time.monotonic()
        self.connected.set()
        if self.on_connect is not None:
            self.on_connect()
        return sock, reader, early

    def _handshake(self, sock: socket.socket, reader: PacketReader,
                   early: list[tuple[str, bytes, int, int]]) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(connect_packet(self.client_id, clean_session=False,
                                    keepalive=self.keepalive, username=self.username,
                                    password=self.password))
        connack = self._expect(sock, reader, CONNACK, early)
        code = connack.body[1] if len(connack.body) >= 2 else 255
        if code != 0:
            raise ProtocolError(f"connection refused: {CONNACK_REASONS.get(code, code)}")
        sock.sendall(subscribe_packet(1, self.subscriptions))
        suback = self._expect(sock, reader, SUBACK, early)
        refused = [t for (t, _q), g in zip(self.subscriptions, suback.body[2:], strict=False)
                   if g == 0x80]
        if refused:
            raise ProtocolError(f"subscription refused for {', '.join(refused)}")

    def _expect(self, sock: socket.socket, reader: PacketReader, kind: int,
                early: list[tuple[str, bytes, int, int]]) -> Control:
        """Read until a ``kind`` control packet, keeping PUBLISHes met on the way
        (oversized ones are handed over at once: only their head was kept)."""

        def keep(topic: str, payload: bytes, qos: int, mid: int) -> None:
            early.append((topic, payload, qos, mid))

        while True:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("broker closed the connection")
            for packet in reader.feed(data, keep, self.on_oversize):
                if packet.kind == kind:
                    return packet

    def _read(self, sock: socket.socket, reader: PacketReader,
              early: list[tuple[str, bytes, int, int]]) -> None:
        handle = self.on_message
        for message in early:
            handle(*message)
        while not self._stop.is_set():
            try:
                data = sock.recv(262144)
            except TimeoutError:
                continue
            if not data:
                raise ConnectionError("broker closed the connection")
            self._handling = True
            try:
                for packet in reader.feed(data, handle, self.on_oversize):
                    if packet.kind not in (PINGRESP, SUBACK):
                        log.debug("MQTT: ignoring packet type %d", packet.kind)
            finally:
                self._last_recv = time.monotonic()  # silence counts from reading again
                self._handling = False
