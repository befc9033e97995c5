"""The relay's two senders (blocking; the relay calls them in a thread): an idempotent
Kafka producer for ``events.*`` and a paho MQTT client for the engineers' inboxes.

Each takes outbox rows and answers ``{row id: None (acked) | error}``; nothing is
logged and forgotten: a row without an ack stays in the outbox and is sent again.
"""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from confluent_kafka import KafkaError, KafkaException, Producer
from paho.mqtt.enums import CallbackAPIVersion

from stack.settings import Settings

Rows = list[dict[str, Any]]


class KafkaSender:
    def __init__(self, settings: Settings) -> None:
        self.timeout_s = settings.outbox_kafka_timeout_s
        # Through a broker outage shorter than the timeout the producer retries the same
        # records (idempotent: no duplicates) and the relay waits; past it the rows are
        # failed, retried later with back-off, and may then reach the topic twice (same
        # event_id: consumers drop the repeat).
        self._producer = Producer({
            "bootstrap.servers": settings.resolved_kafka_bootstrap,
            "enable.idempotence": True,  # in order per partition, no duplicates on retry
            "acks": "all",
            "linger.ms": 1,
            "message.timeout.ms": int(self.timeout_s * 1000),
            "request.timeout.ms": 60_000,
            "reconnect.backoff.max.ms": 2000,
        })

    def send(self, rows: Rows) -> dict[int, str | None]:
        results: dict[int, str | None] = {}

        def done(row_id: int) -> Any:
            def on_delivery(err: KafkaError | None, _msg: Any) -> None:
                results[row_id] = None if err is None else str(err)
            return on_delivery

        for r in rows:
            try:
                self._producer.produce(
                    r["destination"], key=r["key"].encode(), value=bytes(r["payload"]),
                    headers={"event_id": str(r["event_id"])}, on_delivery=done(r["id"]))
            except (BufferError, KafkaException) as exc:
                results[r["id"]] = f"{type(exc).__name__}: {exc}"
            self._producer.poll(0)
        deadline = time.monotonic() + self.timeout_s + 1
        while len(results) < len(rows) and time.monotonic() < deadline:
            self._producer.poll(0.05)
        for r in rows:
            results.setdefault(r["id"], "no delivery report in time")
        return results

    def close(self) -> None:
        self._producer.flush(2)


class MqttSender:
    def __init__(self, settings: Settings) -> None:
        self.timeout_s = settings.outbox_mqtt_timeout_s
        url = urlparse(settings.resolved_mqtt_url)
        self._client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                   client_id=f"fieldflow-relay-{os.getpid()}")
        if settings.mqtt_auth:
            self._client.username_pw_set(settings.mqtt_bridge_user,
                                         settings.mqtt_bridge_password)
        self._client.reconnect_delay_set(1, 10)
        self._client.connect_async(url.hostname or "localhost", url.port or 1883, keepalive=30)
        self._client.loop_start()

    def send(self, rows: Rows) -> dict[int, str | None]:
        """QoS 1, one by one in order; a row counts as sent once the broker's PUBACK came."""
        results: dict[int, str | None] = {}
        for r in rows:
            if not self._client.is_connected():
                results[r["id"]] = "MQTT broker not connected"
                continue
            info = self._client.publish(r["destination"], bytes(r["payload"]), qos=1)
            try:
                info.wait_for_publish(self.timeout_s)
                ok = info.is_published()
            except (RuntimeError, ValueError) as exc:
                results[r["id"]] = f"{type(exc).__name__}: {exc}"
                continue
            results[r["id"]] = None if ok else "no PUBACK in time"
        return results

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()
