"""MQTT for the simulator: a few publishing connections and the phones' inbox listener.

Many devices and phones share a handful of paho connections (QoS 1, round robin), as a
gateway would; ``InboxListener`` subscribes to every engineer inbox and queues what
arrives for the runner's loop (paho calls back on its own thread).
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from typing import Any
from urllib.parse import unquote, urlparse

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

INBOX_FILTER = "fieldflow/engineers/+/inbox"


def parse_mqtt_url(url: str) -> tuple[str, int]:
    u = urlparse(url)
    return u.hostname or "127.0.0.1", u.port or 1883


def mqtt_login(url: str) -> tuple[str, str | None] | None:
    """``(user, password)`` from ``mqtt://user:password@host:port`` (None without)."""
    u = urlparse(url)
    if not u.username:
        return None
    return unquote(u.username), unquote(u.password) if u.password is not None else None


def _client(prefix: str, url: str = "") -> mqtt.Client:
    c = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                    client_id=f"{prefix}-{uuid.uuid4().hex[:8]}")
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    login = mqtt_login(url)
    if login is not None:
        c.username_pw_set(*login)
    return c


class MqttPool:
    """``publish(topic, payload)`` over ``size`` connections; counts sent and acked."""

    def __init__(self, url: str, size: int = 2, prefix: str = "fieldflow-sim") -> None:
        host, port = parse_mqtt_url(url)
        self.clients = [_client(prefix, url) for _ in range(max(1, size))]
        self.sent = 0
        self.acked = 0
        self._lock = threading.Lock()
        for c in self.clients:
            c.on_publish = self._on_publish
            c.connect(host, port, keepalive=30)
            c.loop_start()
        self._next = 0

    def _on_publish(self, *_args: Any) -> None:
        with self._lock:
            self.acked += 1

    def publish(self, topic: str, payload: dict[str, Any] | bytes, qos: int = 1) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        client = self.clients[self._next % len(self.clients)]
        self._next += 1
        client.publish(topic, data, qos=qos)
        self.sent += 1

    def in_flight(self) -> int:
        return self.sent - self.acked

    def flush(self, timeout_s: float = 10.0) -> None:
        """Wait until the broker acknowledged everything sent (QoS 1), or the timeout."""
        deadline = time.monotonic() + timeout_s
        while self.in_flight() > 0 and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self.flush()
        for c in self.clients:
            c.loop_stop()
            c.disconnect()


class InboxListener:
    """Queues ``(engineer_id, message)`` for every JSON message on an engineer inbox."""

    def __init__(self, url: str) -> None:
        host, port = parse_mqtt_url(url)
        self.messages: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        self._subscribed = threading.Event()
        self.client = _client("fieldflow-sim-inbox", url)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda *_a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError(f"could not subscribe to {INBOX_FILTER} on {url}")

    def _on_connect(self, client: mqtt.Client, *_args: Any) -> None:
        client.subscribe(INBOX_FILTER, qos=1)

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        parts = msg.topic.split("/")
        try:
            data = json.loads(msg.payload)
        except ValueError:
            return
        if len(parts) == 4 and isinstance(data, dict):
            self.messages.put((parts[2], data))

    def drain(self) -> list[tuple[str, dict[str, Any]]]:
        out = []
        while True:
            try:
                out.append(self.messages.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
