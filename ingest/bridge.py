"""The MQTT -> Kafka bridge: at least once, nothing lost, nothing silently dropped.

- subscribes at QoS 1 with a persistent session (fixed client id, clean_session off),
  so the broker keeps what arrives while the bridge is down;
- routes each message through :class:`ingest.router.Router` (adapters + validation);
  bad input becomes a dead letter on ``ingest.deadletter`` with its reason;
- acknowledges a message to the broker (paho manual acks) only after Kafka confirmed
  every record it produced, so a crash between the two means redelivery, not loss;
- bounds the messages in flight: when Kafka is slow, ``on_message`` blocks, the
  broker holds the rest (backpressure instead of unbounded memory);
- idempotent Kafka producer; paho and librdkafka both reconnect with backoff.

Run: ``python -m ingest.bridge`` (the supervisor does this).
"""

from __future__ import annotations

import collections
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from confluent_kafka import KafkaError, Message, Producer
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from ingest.metrics import BridgeMetrics
from ingest.router import SUBSCRIPTIONS, Router
from ingest.routing import TOPIC_DEADLETTER, Outgoing
from models.codec import encode
from models.timeutil import now_ms

log = logging.getLogger("fieldflow.bridge")
_PUBACK = 0x40
_PUBACK_HEAD = bytes((_PUBACK, 2))

class _BufferedSocket:
    """paho tuning: paho reads each packet with several tiny ``recv`` calls (command byte,
    length bytes, body) and one ``select`` per packet. This wrapper reads 64 KiB at a time
    and reports the rest through ``pending()``, which paho's loop honours (as for SSL)."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0

    def recv(self, n: int) -> bytes:
        if self._pos >= len(self._buf):
            data: bytes = self._sock.recv(65536)  # BlockingIOError when empty: paho's EAGAIN
            if not data:
                return data
            self._buf, self._pos = data, 0
        start = self._pos
        self._pos = min(len(self._buf), start + n)
        return self._buf[start : self._pos]

    def pending(self) -> int:
        return len(self._buf) - self._pos

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


@dataclass
class _Pending:
    """One MQTT message waiting for its Kafka deliveries before it is acked."""

    mid: int
    qos: int
    remaining: int
    t0: float
    published: int = 0


@dataclass
class BridgeConfig:
    mqtt_url: str
    kafka_bootstrap: str
    client_id: str = "fieldflow-bridge"
    username: str | None = None
    password: str | None = None
    max_in_flight: int = 5000
    ready_file: str | None = None
    metrics_port: int | None = None
    producer_overrides: dict[str, Any] = field(default_factory=dict)


class Bridge:
    def __init__(
        self,
        config: BridgeConfig,
        router: Router | None = None,
        metrics: BridgeMetrics | None = None,
    ) -> None:
        self.config = config
        self.router = router or Router()
        self.metrics = metrics or BridgeMetrics()
        self._slots = threading.BoundedSemaphore(config.max_in_flight)
        # Messages whose Kafka records are all confirmed, waiting to be acked (thread-safe).
        self._done: collections.deque[_Pending] = collections.deque()
        self._stop = threading.Event()
        self.producer = Producer(
            {
                "bootstrap.servers": config.kafka_bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "batch.num.messages": 10000,
                "queue.buffering.max.messages": max(100_000, config.max_in_flight * 4),
                "message.timeout.ms": 30000,
                "reconnect.backoff.ms": 100,
                "reconnect.backoff.max.ms": 5000,
                **config.producer_overrides,
            }
        )
        url = urlparse(config.mqtt_url)
        self._mqtt_host = url.hostname or "localhost"
        self._mqtt_port = url.port or 1883
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            clean_session=False,
            manual_ack=True,
        )
        if config.username:
            self.client.username_pw_set(config.username, config.password)
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self._connected = threading.Event()
        self._loop_read_one = self.client.loop_read
        self.client.loop_read = self._loop_read_many  # type: ignore[method-assign]

    def _loop_read_many(self, max_packets: int = 1) -> MQTTErrorCode:
        """paho reads one packet per loop turn; read every buffered one (up to 1000)."""
        rc = self._loop_read_one(max_packets)
        sock = self.client.socket()
        for _ in range(1000):
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or not isinstance(sock, _BufferedSocket):
                break
            if not sock.pending():
                break
            rc = self._loop_read_one(max_packets)
        return rc

    # -- MQTT callbacks (paho network thread) -------------------------------
    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if getattr(reason, "is_failure", False):
            log.error("MQTT connect refused: %s", reason)
            return
        sock = client.socket()
        if sock is not None and not isinstance(sock, _BufferedSocket):
            client._sock = _BufferedSocket(sock)
        client.subscribe([(topic, 1) for topic in SUBSCRIPTIONS])
        log.info(
            "MQTT connected to %s:%s, subscribed to %s",
            self._mqtt_host,
            self._mqtt_port,
            ", ".join(SUBSCRIPTIONS),
        )
        self._connected.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning("MQTT disconnected (%s); reconnecting with backoff", reason)

    def _on_message(self, client: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        received = now_ms()
        # Backpressure: wait for a slot; the broker keeps the rest meanwhile.
        while not self._slots.acquire(timeout=1.0):
            if self._stop.is_set():
                return
        self.metrics.received.inc()
        self.metrics.in_flight.inc()
        topic = msg.topic
        result = self.router.route(topic, msg.payload, received)
        for cmd_topic, cmd_payload in result.commands:
            client.publish(cmd_topic, cmd_payload, qos=0)
        records = result.records
        if result.dead is not None:
            self.metrics.dead_lettered(result.dead_kind.value if result.dead_kind else "other")
            records = [*records, Outgoing(TOPIC_DEADLETTER, result.dead.topic[:256],
                                          encode(result.dead))]
        pending = _Pending(msg.mid, msg.qos, len(records), time.monotonic())
        if not records:
            self._done.append(pending)
            return
        for rec in records:
            self._produce(rec, pending)

    # -- Kafka ---------------------------------------------------------------
    def _produce(self, rec: Outgoing, pending: _Pending) -> None:
        def delivered(err: KafkaError | None, _m: Message) -> None:
            if err is not None:
                log.warning("Kafka delivery to %s failed (%s); retrying", rec.topic, err)
                self.metrics.retries.inc()
                time.sleep(0.1)
                self._produce(rec, pending)
                return
            if rec.topic != TOPIC_DEADLETTER:
                pending.published += 1
            pending.remaining -= 1
            if pending.remaining == 0:
                self._done.append(pending)

        while True:
            try:
                self.producer.produce(rec.topic, rec.value, key=rec.key, on_delivery=delivered)
                return
            except BufferError:
                self.producer.poll(0.05)  # local queue full: serve callbacks, then retry

    def _finish_done(self) -> int:
        """Ack every message whose records Kafka confirmed: one write, one metrics update."""
        done = self._done
        mids: list[int] = []
        published = 0
        now = time.monotonic()
        latencies: list[float] = []
        while True:
            try:
                pending = done.popleft()
            except IndexError:
                break
            if pending.qos > 0:
                mids.append(pending.mid)
            published += pending.published
            latencies.append((now - pending.t0) * 1000)
        if not latencies:
            return 0
        self._send_acks(mids)
        self.metrics.published.inc(published)
        self.metrics.in_flight.dec(len(latencies))
        self.metrics.latency.observe_many(latencies)
        self._slots.release(len(latencies))
        return len(latencies)

    def _send_acks(self, mids: list[int]) -> None:
        if not mids:
            return
        queue = getattr(self.client, "_packet_queue", None)
        if queue is None:  # another paho: one ack() per message
            for mid in mids:
                self.client.ack(mid, 1)
            return
        # paho tuning: one buffer of PUBACKs written at once instead of one packet (and
        # one socket write, one loop wake-up) per message; MQTT 3.1.1 PUBACK = 0x40 0x02 mid.
        queue(_PUBACK, b"".join(_PUBACK_HEAD + mid.to_bytes(2, "big") for mid in mids), 0, 0)

    def _poll_kafka(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.02)
            self._finish_done()

    # -- lifecycle -----------------------------------------------------------
    def serve_metrics(self, host: str, port: int) -> None:
        """``GET /metrics`` in Prometheus text format, on a small thread server."""
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        metrics = self.metrics

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/metrics":
                    self.send_error(404, "only /metrics here")
                    return
                body = metrics.render_prometheus().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return

        server = ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        log.info("bridge metrics on http://%s:%d/metrics", host, port)

    def start(self) -> None:
        self.producer.list_topics(timeout=30)  # fail fast if Kafka is unreachable
        self._poller = threading.Thread(target=self._poll_kafka, name="kafka-poll", daemon=True)
        self._poller.start()
        self.client.connect_async(self._mqtt_host, self._mqtt_port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(30):
            raise TimeoutError(f"MQTT broker at {self.config.mqtt_url} did not accept us in 30s")
        if self.config.ready_file:
            with open(self.config.ready_file, "w") as fh:  # noqa: PTH123
                fh.write(str(now_ms()))

    def stop(self) -> None:
        self._stop.set()
        self.client.disconnect()
        self.client.loop_stop()
        remaining = self.producer.flush(10)
        if remaining:
            log.error(
                "%d Kafka records not confirmed at shutdown (their MQTT messages were not "
                "acked and will be redelivered)",
                remaining,
            )

    def run_forever(self) -> None:
        self.start()
        log.info(
            "bridge running: MQTT %s -> Kafka %s", self.config.mqtt_url, self.config.kafka_bootstrap
        )
        last = time.monotonic()
        while not self._stop.wait(1.0):
            if time.monotonic() - last >= 30:
                last = time.monotonic()
                log.info("bridge: %s", self.metrics.summary())


def main() -> None:
    from stack.logs import setup_logging
    from stack.settings import get_settings

    settings = get_settings()
    setup_logging(settings.log_level)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    bridge = Bridge(
        BridgeConfig(
            mqtt_url=settings.resolved_mqtt_url,
            kafka_bootstrap=settings.resolved_kafka_bootstrap,
            username=settings.mqtt_bridge_user if settings.mqtt_auth else None,
            password=settings.mqtt_bridge_password if settings.mqtt_auth else None,
            max_in_flight=settings.bridge_max_in_flight,
            ready_file=str(settings.run_dir / "bridge.ready"),
        ),
        router=Router.from_settings(settings.owntracks_devices,
                                    rate_per_s=settings.device_rate_limit_per_s,
                                    burst=settings.device_rate_burst,
                                    max_ahead_s=settings.max_event_ahead_s),
    )
    bridge.serve_metrics(settings.host, settings.bridge_metrics_port)

    def _term(_s: int, _f: object) -> None:
        bridge._stop.set()

    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGINT, _term)
    try:
        bridge.run_forever()
    finally:
        bridge.stop()
        log.info("bridge stopped: %s", bridge.metrics.summary())


if __name__ == "__main__":
    main()
