"""The API's ``services.publisher.Publisher``: an idempotent Kafka producer for
``events.*`` and a paho MQTT client for the engineers' inboxes (QoS 1)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from confluent_kafka import KafkaError, Producer
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel

from models.codec import encode
from stack.settings import Settings

log = logging.getLogger("fieldflow.api.publisher")


class ApiPublisher:
    def __init__(self, settings: Settings, *, delivery_timeout_s: float = 10.0) -> None:
        self._timeout = delivery_timeout_s
        self._producer = Producer(
            {
                "bootstrap.servers": settings.resolved_kafka_bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 2,
                "message.timeout.ms": int(delivery_timeout_s * 1000),
                "reconnect.backoff.max.ms": 5000,
            }
        )
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-producer", daemon=True)
        self._poller.start()
        url = urlparse(settings.resolved_mqtt_url)
        self._mqtt = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"fieldflow-api-{os.getpid()}",
        )
        if settings.mqtt_auth:
            self._mqtt.username_pw_set(settings.mqtt_bridge_user, settings.mqtt_bridge_password)
        self._mqtt.reconnect_delay_set(1, 30)
        self._mqtt.connect_async(url.hostname or "localhost", url.port or 1883, keepalive=30)
        self._mqtt.loop_start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.1)

    async def event(self, topic: str, key: str, message: BaseModel) -> None:
        """Produce and wait for the broker's ack; a failure is logged, not raised (the
        database change is already committed and is the source of truth)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def on_delivery(err: KafkaError | None, _msg: Any) -> None:
            def settle() -> None:
                if done.done():
                    return
                if err is None:
                    done.set_result(None)
                else:
                    done.set_exception(RuntimeError(str(err)))

            loop.call_soon_threadsafe(settle)

        try:
            self._producer.produce(
                topic, key=key.encode(), value=encode(message), on_delivery=on_delivery
            )
            await asyncio.wait_for(done, self._timeout + 1)
        except (BufferError, RuntimeError, TimeoutError) as exc:
            log.error("could not publish %s %s to %s: %s", type(message).__name__, key, topic, exc)

    async def to_engineer(self, engineer_id: str, message: BaseModel) -> None:
        # QoS 1 with paho's own queue: delivered once the broker connection is up.
        self._mqtt.publish(
            f"fieldflow/engineers/{engineer_id}/inbox", message.model_dump_json(), qos=1
        )

    def close(self) -> None:
        self._producer.flush(5)
        self._stop.set()
        self._poller.join(2)
        self._mqtt.loop_stop()
        self._mqtt.disconnect()
