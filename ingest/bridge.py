"""The MQTT -> Kafka bridge: at least once, nothing lost, nothing silently dropped.

- subscribes at QoS 1 with a persistent session (fixed client id, clean_session off),
  so the broker keeps what arrives while the bridge is down;
- routes each message through :class:`ingest.router.Router` (adapters + validation);
  bad input becomes a dead letter on ``ingest.deadletter`` with its reason;
- acknowledges a message to the broker only after Kafka confirmed every record it
  produced, so a crash between the two means redelivery, not loss; acks go in the order
  the messages came (:mod:`ingest.acks`), batched into one write for many (the MQTT side
  is the lean session of :mod:`ingest.mqtt_wire`);
- bounds the messages in flight: when Kafka is slow, ``on_message`` blocks, the
  broker holds the rest (backpressure instead of unbounded memory);
- idempotent Kafka producer; the MQTT session and librdkafka both reconnect with backoff.

Run: ``python -m ingest.bridge`` (the supervisor does this).
"""

from __future__ import annotations

import base64
import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from ingest.acks import AckWindow, Pending
from ingest.metrics import BridgeMetrics
from ingest.mqtt_wire import Session
from ingest.router import SUBSCRIPTIONS, Router, RouteResult, rejection
from ingest.routing import TOPIC_DEADLETTER, Outgoing, RejectKind, dead_letter, payload_summary
from models.codec import encode
from models.messages import DeadLetter
from models.timeutil import now_ms

log = logging.getLogger("fieldflow.bridge")
# Kafka errors that no retry can cure: the record is dead-lettered instead.
PERMANENT = frozenset({
    KafkaError.MSG_SIZE_TOO_LARGE,
    KafkaError.INVALID_MSG, KafkaError.INVALID_MSG_SIZE, KafkaError.INVALID_RECORD,
    KafkaError.RECORD_LIST_TOO_LARGE, KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError._INVALID_ARG,
})


def is_permanent(err: KafkaError) -> bool:
    return err.code() in PERMANENT

@dataclass
class BridgeConfig:
    mqtt_url: str
    kafka_bootstrap: str
    client_id: str = "fieldflow-bridge"
    username: str | None = None
    password: str | None = None
    max_in_flight: int = 5000
    linger_ms: int = 100  # FIELDFLOW_BRIDGE_LINGER_MS (stack.settings)
    max_message_bytes: int = 262_144  # bigger MQTT messages are dead-lettered, head only
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
        # In flight = received - finished: each counter has one writer thread (the MQTT
        # reader, the Kafka poller), so no lock is needed; ``_room`` wakes a waiting reader.
        self._received_n = 0
        self._finished_n = 0
        self._room = threading.Event()
        # Every message received and not yet acked, in order (ingest.acks).
        self._acks = AckWindow()
        self._stop = threading.Event()
        self.producer = Producer(
            {
                "bootstrap.servers": config.kafka_bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": config.linger_ms,
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
        self.session = Session(
            self._mqtt_host,
            self._mqtt_port,
            config.client_id,
            [(topic, 1) for topic in SUBSCRIPTIONS],
            self._on_message,
            username=config.username,
            password=config.password if config.username else None,
            keepalive=30,
            on_connect=self._on_connect,
            max_packet=config.max_message_bytes,
            on_oversize=self._on_oversize,
        )

    # -- MQTT (the session's reader thread) ------------------------------------
    def _on_connect(self) -> None:
        log.info("MQTT connected to %s:%s, subscribed to %s", self._mqtt_host,
                 self._mqtt_port, ", ".join(SUBSCRIPTIONS))

    def _wait_for_room(self) -> bool:
        """Backpressure: at the in-flight bound, stop reading; the broker keeps the rest.
        False when the bridge is stopping."""
        while self._received_n - self._finished_n >= self.config.max_in_flight:
            self._room.clear()
            if self._received_n - self._finished_n < self.config.max_in_flight:
                break
            self._room.wait(1.0)
            if self._stop.is_set():
                return False
        return True

    def _on_oversize(  # noqa: PLR0917
        self, topic: str, head: bytes, size: int, sha256_hex: str, qos: int, mid: int
    ) -> None:
        """A message above ``max_message_bytes``: dead-lettered once (its size, hash and
        head), then acked like any other, so the broker never redelivers it."""
        if not self._wait_for_room():
            return
        self._received_n += 1
        self.metrics.received.inc()
        reason = (f"message of {size} bytes exceeds the MQTT message limit of "
                  f"{self.config.max_message_bytes} bytes (FIELDFLOW_MQTT_MAX_MESSAGE_BYTES)"
                  + payload_summary(size, sha256_hex, len(head)))
        letter = DeadLetter(topic=topic[:512], payload_b64=base64.b64encode(head).decode(),
                            reason=reason, received_at=now_ms())
        log.warning("bridge: dead-lettered a %d-byte message on %r (sha256 %s)", size,
                    topic[:200], sha256_hex)
        records = self._records(RouteResult([], letter, RejectKind.OVERSIZE))
        pending = self._acks.add(Pending(mid, qos, len(records), time.monotonic()))
        for rec in records:
            self._produce(rec, pending)

    def _on_message(self, topic: str, payload: bytes, qos: int, mid: int) -> None:
        if not self._wait_for_room():
            return
        self._received_n += 1
        self.metrics.received.inc()
        received = now_ms()
        try:
            records = self._records(self.router.route(topic, payload, received))
        except Exception as exc:  # a bug costs this message (dead-lettered), not the loop
            log.exception("bridge: unexpected error on a message from %r", topic[:200])
            records = self._records(rejection(
                topic, payload, f"internal: {type(exc).__name__}: {exc}",
                kind=RejectKind.INTERNAL, received_at=received, commands=[]))
        pending = self._acks.add(Pending(mid, qos, len(records), time.monotonic()))
        for rec in records:
            self._produce(rec, pending)

    def _records(self, result: RouteResult) -> list[Outgoing]:
        """The Kafka records of one routed MQTT message (its dead letter included);
        publishes the router's MQTT commands (Sparkplug rebirth requests)."""
        for cmd_topic, cmd_payload in result.commands:
            self.session.publish(cmd_topic, cmd_payload)
        if result.dead is None:
            return result.records
        self.metrics.dead_lettered(result.dead_kind.value if result.dead_kind else "other")
        return [*result.records,
                Outgoing(TOPIC_DEADLETTER, result.dead.topic[:256], encode(result.dead))]

    # -- Kafka ---------------------------------------------------------------
    def _produce(self, rec: Outgoing, pending: Pending) -> None:
        """Produce ``rec``; its message is acked once every record is settled. Transient
        errors are retried; a record Kafka refuses for good becomes a dead letter, and a
        dead letter refused for good is logged as an error and given up (never retried
        forever, which would stop the session)."""

        def delivered(err: KafkaError | None, _m: Message) -> None:
            if err is not None:
                if is_permanent(err):
                    self._refused(rec, pending, err.str())
                    return
                log.warning("Kafka delivery to %s failed (%s); retrying", rec.topic, err)
                self.metrics.retries.inc()
                time.sleep(0.1)
                self._produce(rec, pending)
                return
            if rec.topic != TOPIC_DEADLETTER:
                pending.published += 1
            pending.settle()

        while True:
            try:
                self.producer.produce(rec.topic, rec.value, key=rec.key, on_delivery=delivered)
                return
            except BufferError:  # local queue full: the poller serves it, then retry
                time.sleep(0.005)
            except (KafkaException, ValueError, TypeError) as exc:  # refused locally
                self._refused(rec, pending, f"{type(exc).__name__}: {exc}")
                return

    def _refused(self, rec: Outgoing, pending: Pending, why: str) -> None:
        if rec.topic == TOPIC_DEADLETTER:
            log.error("bridge: Kafka refused a dead letter for %r for good (%s); %d bytes "
                      "given up", rec.key[:200], why, len(rec.value))
            self.metrics.dead_lettered(RejectKind.KAFKA_REFUSED.value)
            pending.settle()
            return
        log.warning("bridge: Kafka refused a record for %s (%s); dead-lettering it",
                    rec.topic, why)
        letter = dead_letter(rec.key, rec.value,
                             f"Kafka refused the record for {rec.topic}: {why}", now_ms())
        self.metrics.dead_lettered(RejectKind.KAFKA_REFUSED.value)
        self._produce(Outgoing(TOPIC_DEADLETTER, rec.key[:256], encode(letter)), pending)

    def _finish_done(self) -> int:
        """Ack the messages whose records Kafka confirmed, in the order they came (a done
        message waits for those before it): one write, one metrics update."""
        mids: list[int] = []
        published = 0
        now = time.monotonic()
        latencies: list[float] = []
        for pending in self._acks.ready():
            if pending.qos > 0:
                mids.append(pending.mid)
            published += pending.published
            latencies.append((now - pending.t0) * 1000)
        if not latencies:
            return 0
        self.session.ack(mids)  # one write for all of them
        self._finished_n += len(latencies)
        self._room.set()
        self.metrics.published.inc(published)
        self.metrics.in_flight.value = self._received_n - self._finished_n
        self.metrics.latency.observe_many(latencies)
        return len(latencies)

    def _poll_kafka(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.02)
            self._finish_done()
            self.session.tick()

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
        self.session.start()
        if not self.session.connected.wait(30):
            raise TimeoutError(f"MQTT broker at {self.config.mqtt_url} did not accept us in 30s")
        if self.config.ready_file:
            with open(self.config.ready_file, "w") as fh:  # noqa: PTH123
                fh.write(str(now_ms()))

    def stop(self) -> None:
        self._stop.set()
        self.session.stop()
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
    from stack.gctune import freeze_startup_objects, tune_gc
    from stack.logs import setup_logging
    from stack.settings import get_settings

    settings = get_settings()
    setup_logging(settings.log_level)
    tune_gc()
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    bridge = Bridge(
        BridgeConfig(
            mqtt_url=settings.resolved_mqtt_url,
            kafka_bootstrap=settings.resolved_kafka_bootstrap,
            username=settings.mqtt_bridge_user if settings.mqtt_auth else None,
            password=settings.mqtt_bridge_password if settings.mqtt_auth else None,
            max_in_flight=settings.bridge_max_in_flight,
            linger_ms=settings.bridge_linger_ms,
            max_message_bytes=settings.mqtt_max_message_bytes,
            ready_file=str(settings.run_dir / "bridge.ready"),
        ),
        router=Router.from_settings(settings.owntracks_devices,
                                    rate_per_s=settings.device_rate_limit_per_s,
                                    burst=settings.device_rate_burst,
                                    max_ahead_s=settings.max_event_ahead_s),
    )
    bridge.serve_metrics(settings.backend_host, settings.bridge_metrics_port)
    freeze_startup_objects()

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
