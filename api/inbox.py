"""The engineers' live channel: one MQTT subscription to every engineer inbox per API
process, fanned out to that engineer's open app connections.

What the API and the streams send to a phone (``fieldflow/engineers/{id}/inbox``: an
assignment, a withdrawal) reaches the engineer's app over ``/ws/inbox`` as it reaches a
phone over MQTT. Each connection has a bounded queue; when it is full the oldest message
is skipped (and counted), so a connection that never reads holds nobody up.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from models.dedupe import RecentIds
from stack.settings import Settings

log = logging.getLogger("fieldflow.api.inbox")

INBOX_FILTER = "fieldflow/engineers/+/inbox"


def engineer_of(topic: str) -> str | None:
    """``fieldflow/engineers/{id}/inbox`` -> ``id``; None for any other topic."""
    parts = topic.split("/")
    if len(parts) == 4 and parts[:2] == ["fieldflow", "engineers"] and parts[3] == "inbox":
        return parts[2] or None
    return None


def decode(payload: bytes | bytearray) -> dict[str, Any] | None:
    """An inbox message is a JSON object; anything else is not passed on."""
    try:
        data = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(eq=False)
class InboxClient:
    engineer_id: str
    maxsize: int = 100
    skipped: int = 0
    queue: asyncio.Queue[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.maxsize)

    def offer(self, msg: dict[str, Any]) -> None:
        while self.queue.full():
            self.queue.get_nowait()
            self.skipped += 1
        self.queue.put_nowait(msg)


class InboxHub:
    """Subscribes (QoS 1) to every inbox and hands each message to the event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clients: dict[str, set[InboxClient]] = {}
        self._seen = RecentIds()
        self.subscribed = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._mqtt = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=f"fieldflow-api-inbox-{os.getpid()}-{uuid.uuid4().hex[:6]}",
        )
        if settings.mqtt_auth:
            self._mqtt.username_pw_set(settings.mqtt_bridge_user, settings.mqtt_bridge_password)
        self._mqtt.reconnect_delay_set(1, 30)
        self._mqtt.on_connect = self._on_connect
        self._mqtt.on_subscribe = lambda *_a: self.subscribed.set()
        self._mqtt.on_message = self._on_message

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        url = urlparse(self.settings.resolved_mqtt_url)
        self._mqtt.connect_async(url.hostname or "localhost", url.port or 1883, keepalive=30)
        self._mqtt.loop_start()

    def stop(self) -> None:
        self._mqtt.loop_stop()
        self._mqtt.disconnect()

    def _on_connect(self, client: mqtt.Client, *_args: Any) -> None:
        client.subscribe(INBOX_FILTER, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        engineer = engineer_of(msg.topic)
        data = decode(msg.payload)
        if engineer is None or data is None or self._loop is None:
            log.warning("inbox message on %s not passed on (not a JSON object)", msg.topic)
            return
        self._loop.call_soon_threadsafe(self.fanout, engineer, data)

    def register(self, engineer_id: str) -> InboxClient:
        client = InboxClient(engineer_id, maxsize=self.settings.live_queue_size)
        self.clients.setdefault(engineer_id, set()).add(client)
        return client

    def unregister(self, client: InboxClient) -> None:
        mine = self.clients.get(client.engineer_id)
        if mine is not None:
            mine.discard(client)
            if not mine:
                del self.clients[client.engineer_id]

    def fanout(self, engineer_id: str, data: dict[str, Any]) -> None:
        if not self._seen.first(data.get("event_id")):  # the relay sends at least once
            return
        for client in list(self.clients.get(engineer_id, ())):
            client.offer(data)
