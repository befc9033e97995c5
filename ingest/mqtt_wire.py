"""A lean MQTT 3.1.1 subscriber session: the bridge's receive path.

paho spends most of the bridge's time on per-packet work (a ``select`` and several tiny
``recv`` calls per packet, an ``MQTTMessage`` object, locks, per-message acks). The
bridge needs little of MQTT: one persistent session (``clean_session`` off) subscribed at
QoS 1, PUBACKs sent only when Kafka confirmed a message, a few QoS 0 publishes (Sparkplug
rebirth requests), keepalive pings and reconnecting with backoff. This module does that:

- :class:`PacketReader` and the ``*_packet`` builders (:mod:`ingest.mqtt_packets`) are
  pure (bytes in, packets out), unit-tested, with no I/O;
- :class:`Session` owns the socket: a reader thread that parses whole 256 KiB reads and
  hands each PUBLISH to ``on_message(topic, payload, qos, mid)`` (one above the limit,
  head only, to ``on_oversize``), and ``send`` (thread safe) for acks, commands and pings.

QoS 2 cannot arrive: the broker delivers at most the subscription's QoS (1).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable

from ingest.mqtt_packets import (
    _DISCONNECT,
    _PINGREQ,
    CONNACK,
    CONNACK_REASONS,
    CONNECT,
    DISCONNECT,
    HEAD_BYTES,
    MAX_PACKET,
    PINGREQ,
    PINGRESP,
    PUBACK,
    PUBLISH,
    SUBACK,
    SUBSCRIBE,
    Control,
    MessageHandler,
    OversizeHandler,
    PacketReader,
    ProtocolError,
    connect_packet,
    puback_packets,
    publish_packet,
    subscribe_packet,
    varlen,
)

__all__ = [
    "CONNACK", "CONNACK_REASONS", "CONNECT", "DISCONNECT", "HEAD_BYTES", "MAX_PACKET",
    "PINGREQ", "PINGRESP", "PUBACK", "PUBLISH", "SUBACK", "SUBSCRIBE", "Control",
    "MessageHandler", "OversizeHandler", "PacketReader", "ProtocolError", "Session",
    "connect_packet", "puback_packets", "publish_packet", "subscribe_packet", "varlen",
]

log = logging.getLogger("fieldflow.bridge.mqtt")


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
