"""How the streams publish: faust topics for ``events.*``, MQTT for phones' inboxes."""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from pydantic import BaseModel

from models.codec import encode
from stack.settings import TOPICS, Settings
from streams.app import topic

log = logging.getLogger("fieldflow.streams.publish")


class StreamPublisher:
    """The ``services.publisher.Publisher`` of the stream workers."""

    def __init__(self, settings: Settings) -> None:
        self._topics = {name: topic(name) for name in TOPICS}
        url = urlparse(settings.resolved_mqtt_url)
        self._mqtt = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                                 client_id=f"fieldflow-worker-{threading.get_native_id()}")
        if settings.mqtt_auth:
            self._mqtt.username_pw_set(settings.mqtt_bridge_user, settings.mqtt_bridge_password)
        self._mqtt.reconnect_delay_set(1, 30)
        self._mqtt.connect_async(url.hostname or "localhost", url.port or 1883, keepalive=30)
        self._mqtt.loop_start()

    async def event(self, topic_name: str, key: str, message: BaseModel) -> None:
        await self._topics[topic_name].send(key=key.encode(), value=encode(message))

    async def to_engineer(self, engineer_id: str, message: BaseModel) -> None:
        # QoS 1 with paho's own queue: delivered once the broker connection is up.
        self._mqtt.publish(f"fieldflow/engineers/{engineer_id}/inbox",
                           message.model_dump_json(), qos=1)
        log.info("sent %s to engineer %s", getattr(message, "type", "message"), engineer_id)

    def close(self) -> None:
        self._mqtt.loop_stop()
        self._mqtt.disconnect()
