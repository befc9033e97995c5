"""Session fixture: the real embedded stack (PostgreSQL, tansu, MQTT broker, bridge,
faust worker, API) started with ``fieldflow up --detach`` on free ports."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import httpx
import paho.mqtt.client as mqtt
import pytest
from confluent_kafka import Consumer
from paho.mqtt.enums import CallbackAPIVersion

from stack.procs import free_port, free_ports

REPO = Path(__file__).resolve().parents[2]
DISPATCHER_EMAIL = "dispatch@fieldflow.test"  # the dispatcher on duty of the session stack


class Stack:
    def __init__(self, home: Path, env: dict[str, str], status: dict[str, Any]) -> None:
        self.home = home
        self.env = env
        self.status = status
        self.api_url: str = status["api_url"]
        self.admin_token: str = status["admin_token"]
        self.kafka: str = status["kafka_bootstrap"]
        self.database_url: str = status["database_url"]
        host, port = status["mqtt_url"].removeprefix("mqtt://").split(":")
        self.mqtt_host, self.mqtt_port = host, int(port)
        # MQTT requires a login by default: the tests publish as the stack's fleet user
        # (``mqtt_fleet_url`` of ``fieldflow status --json``), which may publish for any
        # device or phone, as the demo simulator does.
        fleet = urlparse(status.get("mqtt_fleet_url") or "")
        self.mqtt_login: tuple[str, str] | None = (
            (unquote(fleet.username), unquote(fleet.password or "")) if fleet.username else None
        )
        # Where the stack sends email (tests/e2e/test_notifications.py serves SMTP there).
        self.smtp_port = int(env.get("FIELDFLOW_SMTP_PORT", "0"))

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "stack.cli", *args],
            env=self.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def api(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        return httpx.Client(base_url=self.api_url, headers=headers, timeout=10)

    def mqtt_client(self, client_id: str | None = None) -> mqtt.Client:
        c = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=client_id or f"test-{uuid.uuid4().hex[:8]}",
        )
        self.login(c)
        c.connect(self.mqtt_host, self.mqtt_port)
        c.loop_start()
        return c

    def login(self, client: mqtt.Client) -> mqtt.Client:
        if self.mqtt_login is not None:
            client.username_pw_set(*self.mqtt_login)
        return client

    def publish(self, topic: str, payload: bytes | str, qos: int = 1) -> None:
        c = self.mqtt_client()
        try:
            c.publish(topic, payload, qos=qos).wait_for_publish(10)
        finally:
            c.loop_stop()
            c.disconnect()

    def consume(self, topic: str, *, until: Any, timeout_s: float = 30) -> list[Any]:
        """Read ``topic`` from the beginning until ``until(messages)`` is true."""
        consumer = Consumer(
            {
                "bootstrap.servers": self.kafka,
                "group.id": f"test-{uuid.uuid4().hex}",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 6000,
                "max.poll.interval.ms": 10000,
            }
        )
        consumer.subscribe([topic])
        got: list[Any] = []
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline and not until(got):
                msg = consumer.poll(0.5)
                if msg is not None and msg.error() is None:
                    got.append(msg)
        finally:
            consumer.close()
        return got


def mqtt_client(stack: Stack, user: str | None, password: str | None,
                host: str | None = None) -> tuple[mqtt.Client, Any]:
    """An MQTT v5 client logged in as ``user`` (anonymous when None), its loop running;
    returns it and the reason code of its CONNACK (``.is_failure`` when refused)."""
    connected = threading.Event()
    result: dict[str, Any] = {}

    def on_connect(_c: Any, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        result["reason"] = reason
        connected.set()

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"t-{uuid.uuid4().hex[:8]}",
                    protocol=mqtt.MQTTv5)
    if user:
        c.username_pw_set(user, password)
    c.on_connect = on_connect
    c.connect(host or stack.mqtt_host, stack.mqtt_port)
    c.loop_start()
    assert connected.wait(10), "no CONNACK in 10 s"
    return c, result["reason"]


def close_mqtt(c: mqtt.Client) -> None:
    c.loop_stop()
    c.disconnect()


@pytest.fixture
def day_left() -> None:
    """For tests that dispatch work for today into the test world's shift, which ends at
    23:59:59 UTC: they skip in the day's last hours (``day_left_or_skip``)."""
    from tests.e2e.test_api_world import day_left_or_skip  # it imports this module

    day_left_or_skip()


def wait_until(check: Any, timeout_s: float = 30, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met in {timeout_s}s (last value: {last!r})")


def stack_home() -> Path:
    """A home outside pytest's tmp dirs: PostgreSQL runs as an unprivileged user when we
    are root and must reach its data dir, and pytest keeps its own root at mode 0700."""
    home = Path(tempfile.mkdtemp(prefix="fieldflow-e2e-"))
    home.chmod(0o755)
    return home


# The fault model is trained once per checkout (gitignored), not once per test session.
SHARED_MODEL_ENV = {
    "FIELDFLOW_FAULT_MODEL_PATH": str(REPO / ".fieldflow" / "models" / "fault_fd001.joblib"),
}


def stack_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a stack of our own in ``home``: free ports, the shared model."""
    # No e2e test fetches public map tiles: the vector map unless a test serves its own.
    env = {**os.environ, "FIELDFLOW_HOME": str(home), **SHARED_MODEL_ENV,
           "FIELDFLOW_MAP_TILE_URL": "none", **extra}
    names = ("POSTGRES", "KAFKA", "MQTT", "API", "BRIDGE_METRICS")
    for name, port in zip(names, free_ports(len(names)), strict=True):
        env[f"FIELDFLOW_{name}_PORT"] = str(port)
    return env


def run_stack(**extra_env: str) -> Iterator[Stack]:
    """A stack of our own (``fieldflow up --detach``), stopped and removed afterwards."""
    home = stack_home()
    env = stack_env(home, **extra_env)
    up = subprocess.run(
        [sys.executable, "-m", "stack.cli", "up", "--detach"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if up.returncode != 0:
        log = home / "logs" / "supervisor.log"
        pytest.fail(f"fieldflow up failed: {up.stderr}\n{log.read_text() if log.exists() else ''}")
    status = json.loads(
        subprocess.run(
            [sys.executable, "-m", "stack.cli", "status", "--json"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    s = Stack(home, env, status)
    try:
        yield s
    finally:
        subprocess.run(
            [sys.executable, "-m", "stack.cli", "down"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # OwnTracks phones known to the bridge (tests/e2e/test_ingest.py)
    # Webhook receivers of the tests listen on 127.0.0.2 (loopback is refused otherwise);
    # email to a dispatcher on duty goes to a port a test serves SMTP on when it needs to.
    yield from run_stack(
        FIELDFLOW_OWNTRACKS_DEVICES=json.dumps({"jane/iphone": "ot-jane"}),
        FIELDFLOW_WEBHOOK_ALLOWED_NETWORKS='["127.0.0.2/32"]',
        FIELDFLOW_SMTP_HOST="127.0.0.1", FIELDFLOW_SMTP_PORT=str(free_port()),
        FIELDFLOW_NOTIFY_DISPATCHER_EMAILS=json.dumps([DISPATCHER_EMAIL]),
        # tests/e2e/test_hardening_scopes.py reaches the limit
        FIELDFLOW_CUSTOMER_OPEN_REQUESTS_MAX="5",
        # many tests try bad tokens on purpose from 127.0.0.1: a roomier
        # failed-lookup allowance than production's, so none of them meets 429
        FIELDFLOW_AUTH_FAILURES_BURST="100", FIELDFLOW_AUTH_FAILURES_PER_S="2")
