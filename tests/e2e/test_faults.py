"""Fault injection over the real stack: each test says what it injected and what it checked.

Run apart with ``pytest -m faults``. Every test leaves the stack running (the supervisor
restarts the killed service, or the test resumes it) for the tests after it.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
import psutil
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.e2e.conftest import Stack, wait_until
from tests.e2e.seed import query, seed_engineer, seed_site

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

RULE = "temperature > 90 severity major as overheating"


def say(what: str) -> None:
    print(f"[faults] {what}", flush=True)


def _status(stack: Stack) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(stack.cli("status", "--json").stdout)
    return result


def _pid(stack: Stack, service: str) -> int:
    return int(_status(stack)["services"][service]["pid"])


def _restarted(stack: Stack, service: str, old: int) -> int:
    """Wait until the supervisor runs ``service`` under a new pid; return it."""

    def new_pid() -> int:
        svc = _status(stack)["services"][service]
        return svc["pid"] if svc["pid"] != old and svc["state"] == "running" else 0

    pid: int = wait_until(new_pid, timeout_s=60, interval=0.3)
    return pid


def _count(stack: Stack, table: str, column: str, key: str) -> int:
    return int(
        query(stack.database_url, f"SELECT count(*) FROM {table} WHERE {column} = %s", (key,))[0][0]
    )


class Phone:
    """A paho client as a phone or device uses it: QoS 1, reconnects by itself, and
    keeps what it publishes while the broker is away (paho queues QoS 1 messages)."""

    def __init__(self, stack: Stack, name: str) -> None:
        self.client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2, client_id=f"{name}-{os.getpid()}"
        )
        stack.login(self.client)
        self.client.reconnect_delay_set(min_delay=1, max_delay=2)
        self.client.max_inflight_messages_set(100)
        self.mids: list[int] = []
        self._acked: set[int] = set()
        self.client.on_publish = lambda _c, _u, mid, _rc, _p: self._acked.add(mid)
        self.client.connect(stack.mqtt_host, stack.mqtt_port, keepalive=10)
        self.client.loop_start()

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        # While disconnected paho answers "not connected" but keeps the message and
        # sends it on reconnect; the PUBACK (on_publish) is what counts.
        self.mids.append(self.client.publish(topic, json.dumps(payload), qos=1).mid)

    def acked(self) -> int:
        return sum(1 for mid in self.mids if mid in self._acked)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _readings(t0: int, n: int, hot: range = range(0)) -> list[dict[str, Any]]:
    """``n`` readings one second apart in event time; those in ``hot`` at 95 degrees."""
    return [
        {"ts": t0 + i * 1000, "metrics": {"temperature": 95.0 if i in hot else 70.0 + i % 5}}
        for i in range(n)
    ]


def _publish_paced(
    phone: Phone,
    topic: str,
    payloads: list[dict[str, Any]],
    per_s: float,
    on_index: dict[int, Any] | None = None,
) -> None:
    """Publish at ``per_s``; call ``on_index[i]()`` just before payload ``i`` (the fault)."""
    t0 = time.monotonic()
    for i, p in enumerate(payloads):
        if on_index and i in on_index:
            on_index[i]()
        phone.publish(topic, p)
        ahead = t0 + (i + 1) / per_s - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)


# -- (a) ---------------------------------------------------------------------------------
def test_worker_killed_mid_stream_loses_nothing_and_duplicates_nothing(stack: Stack) -> None:
    sites = [
        seed_site(stack.database_url, lat=51.53 + i / 100, lon=-0.1, rules=[RULE]) for i in range(2)
    ]
    eng = seed_engineer(stack.database_url, lat=51.54, lon=-0.1)
    query(
        stack.database_url,
        "INSERT INTO engineer_last_position (engineer_id, ts, lat, lon,"
        " source) VALUES (%s, now(), 51.54, -0.1, 'native')",
        (eng,),
    )
    time.sleep(6)  # the agents reload devices and rules every 5 s
    t0 = int(time.time() * 1000)
    n = 1500
    # Device 0 overheats before the kill, device 1 after it (its order is made by the new worker).
    streams = [_readings(t0, n, hot=range(200, 210)), _readings(t0, n, hot=range(1100, 1110))]
    old = _pid(stack, "worker-1")
    killed = threading.Event()

    def kill() -> None:
        os.kill(old, signal.SIGKILL)
        killed.set()
        say(
            f"injected: kill -9 of the faust worker (pid {old}) after 600 of {n} readings "
            "per device were published"
        )

    phones = [Phone(stack, f"dev{i}") for i in range(2)]
    threads = [
        threading.Thread(
            target=_publish_paced,
            args=(
                phones[i],
                f"fieldflow/devices/{sites[i]['dev']}/telemetry",
                streams[i],
                300,
                {600: kill} if i == 0 else None,
            ),
        )
        for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert killed.is_set()
    new = _restarted(stack, "worker-1", old)
    say(f"supervisor restarted the worker as pid {new}")
    for phone in phones:
        wait_until(lambda p=phone: p.acked() == n, timeout_s=30)
        phone.close()
    for site in sites:
        wait_until(
            lambda s=site: _count(stack, "readings", "device_id", s["dev"]) >= n, timeout_s=120
        )

    for site in sites:
        stored = _count(stack, "readings", "device_id", site["dev"])
        alerts = query(
            stack.database_url,
            "SELECT fault_type, state FROM alerts WHERE device_id = %s",
            (site["dev"],),
        )
        orders = wait_until(
            lambda s=site: query(
                stack.database_url, "SELECT id FROM work_orders WHERE asset_id = %s", (s["asset"],)
            ),
            timeout_s=60,
        )
        time.sleep(2)  # a duplicate would show up now
        orders = query(
            stack.database_url, "SELECT id FROM work_orders WHERE asset_id = %s", (site["asset"],)
        )
        say(
            f"checked {site['dev']}: published {n}, stored {stored} distinct readings; "
            f"alerts {alerts}; work orders {[o[0] for o in orders]}"
        )
        assert stored == n
        assert [a[0] for a in alerts] == ["overheating"]  # one alert (cleared later is fine)
        assert len(orders) == 1


# -- (b) ---------------------------------------------------------------------------------
def test_mqtt_broker_restart_phones_and_bridge_reconnect(stack: Stack) -> None:
    site = seed_site(stack.database_url, lat=51.56, lon=-0.1)
    eng = seed_engineer(stack.database_url, lat=51.56, lon=-0.11)
    phone, device = Phone(stack, "phone"), Phone(stack, "device")
    t0, n, per_s = int(time.time() * 1000), 300, 30
    fixes = [
        {"ts": t0 + i * 1000, "lat": 51.56 + i * 1e-5, "lon": -0.11, "acc": 8} for i in range(n)
    ]
    old = _pid(stack, "mqtt")
    bridge = _pid(stack, "bridge")

    def kill() -> None:
        os.kill(old, signal.SIGKILL)
        say(
            f"injected: kill -9 of the MQTT broker (pid {old}) after 100 of {n} fixes and "
            f"{n} readings; phones keep publishing QoS 1 while it is away"
        )

    threads = [
        threading.Thread(
            target=_publish_paced,
            args=(phone, f"fieldflow/engineers/{eng}/location", fixes, per_s, {100: kill}),
        ),
        threading.Thread(
            target=_publish_paced,
            args=(device, f"fieldflow/devices/{site['dev']}/telemetry", _readings(t0, n), per_s),
        ),
    ]
    for t in threads:
        t.start()
    new = _restarted(stack, "mqtt", old)
    say(f"supervisor restarted the broker as pid {new}")
    for t in threads:
        t.join(60)
    for p in (phone, device):
        wait_until(lambda p=p: p.acked() == n, timeout_s=60)
        p.close()
    wait_until(
        lambda: (
            _count(stack, "positions", "engineer_id", eng) >= n
            and _count(stack, "readings", "device_id", site["dev"]) >= n
        ),
        timeout_s=60,
    )
    positions = _count(stack, "positions", "engineer_id", eng)
    readings = _count(stack, "readings", "device_id", site["dev"])
    say(
        f"checked: all {n} fixes and {n} readings PUBACKed after the reconnect; stored "
        f"{positions} positions and {readings} readings; bridge pid {bridge} -> "
        f"{_pid(stack, 'bridge')} (reconnected in place if unchanged)"
    )
    assert (positions, readings) == (n, n)


# -- (c) ---------------------------------------------------------------------------------
def test_postgres_unavailable_30s_workers_back_off_and_catch_up(stack: Stack) -> None:
    site = seed_site(stack.database_url, lat=51.57, lon=-0.1)
    dev = site["dev"]
    device = Phone(stack, "device-pg")
    t0, n = int(time.time() * 1000), 900
    payloads = _readings(t0, n)
    worker = _pid(stack, "worker-1")
    _publish_paced(device, f"fieldflow/devices/{dev}/telemetry", payloads[:300], 200)
    wait_until(lambda: _count(stack, "readings", "device_id", dev) == 300, timeout_s=60)
    pg = psutil.Process(_pid(stack, "postgres"))
    procs = [pg, *pg.children(recursive=True)]
    stopped_at = time.monotonic()
    for p in procs:
        p.send_signal(signal.SIGSTOP)
    say(
        f"injected: SIGSTOP to PostgreSQL (pid {pg.pid} and {len(procs) - 1} children) for 30 s"
        f" while publishing {n - 300} more readings"
    )
    try:
        _publish_paced(device, f"fieldflow/devices/{dev}/telemetry", payloads[300:], 100)
        wait_until(lambda: device.acked() == n, timeout_s=25)  # MQTT and Kafka need no database
        time.sleep(max(0.0, 30 - (time.monotonic() - stopped_at)))
    finally:
        for p in procs:
            if p.is_running():
                p.send_signal(signal.SIGCONT)
    say("resumed PostgreSQL (SIGCONT)")
    device.close()
    try:
        wait_until(lambda: _count(stack, "readings", "device_id", dev) >= n, timeout_s=90)
    finally:
        stored = _count(stack, "readings", "device_id", dev)
        status = _status(stack)["services"]["worker-1"]
        say(
            f"checked: published {n}, stored {stored} distinct readings; worker pid {worker} -> "
            f"{status['pid']} (restarts {status.get('restarts')})"
        )
    assert stored == n


# -- (d) ---------------------------------------------------------------------------------
def _ws_open(stack: Stack, query_string: str, rcvbuf: int | None = None) -> socket.socket:
    """Open ``/ws/live`` with a raw socket and read only the handshake answer."""
    host, port = stack.api_url.removeprefix("http://").split(":")
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws/live?{query_string} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Sec-WebSocket-Protocol: fieldflow.v1, bearer.{stack.admin_token}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    sock.settimeout(10)
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        if not chunk:
            break
        head += chunk
    status = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"?"
    if status != b"101":
        sock.close()
        pytest.skip(
            f"the API answers /ws/live with HTTP {status.decode()} (no websocket "
            "route yet?): the slow-consumer test needs the live feed from api/"
        )
    return sock


def _ws_frames(sock: socket.socket, until: Any, timeout_s: float) -> list[str]:
    """Read text frames (server frames are unmasked) until ``until(frames)`` or timeout."""
    frames: list[str] = []
    buf = b""
    deadline = time.monotonic() + timeout_s
    sock.settimeout(0.5)
    while time.monotonic() < deadline and not until(frames):
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 2:
            length, start = buf[1] & 0x7F, 2
            if length == 126:
                length, start = int.from_bytes(buf[2:4], "big"), 4
            elif length == 127:
                length, start = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < start + length:
                break
            if buf[0] & 0x0F == 1:
                frames.append(buf[start : start + length].decode(errors="replace"))
            buf = buf[start + length :]
    return frames


def test_websocket_client_that_never_reads_does_not_slow_the_stream(stack: Stack) -> None:
    eng = seed_engineer(stack.database_url, lat=51.58, lon=-0.1)
    slow = _ws_open(stack, "", rcvbuf=4096)
    fast = _ws_open(stack, f"engineer={eng}")
    try:
        say(
            "injected: a /ws/live client that never reads (4 KiB receive buffer), beside a "
            f"client that reads (engineer filter {eng}); publishing 3000 fixes"
        )
        phone = Phone(stack, "phone-ws")
        t0, n = int(time.time() * 1000), 3000
        fixes = [
            {"ts": t0 + i * 1000, "lat": 51.58 + (i % 100) * 1e-5, "lon": -0.1, "acc": 8}
            for i in range(n)
        ]
        _publish_paced(phone, f"fieldflow/engineers/{eng}/location", fixes, 500)
        wait_until(lambda: phone.acked() == n, timeout_s=30)
        phone.close()
        last = str(fixes[-1]["ts"])
        frames = _ws_frames(fast, lambda fs: any(last in f for f in fs[-50:]), timeout_s=60)
        wait_until(lambda: _count(stack, "positions", "engineer_id", eng) >= n, timeout_s=60)
        stored = _count(stack, "positions", "engineer_id", eng)
        ours = [f for f in frames if eng in f]
        healthy = stack.api().get("/healthz").status_code
        say(
            f"checked: stored {stored}/{n} fixes; the reading client got {len(ours)} frames for "
            f"{eng}, the last fix included: {any(last in f for f in ours)}; /healthz {healthy}"
        )
        assert stored == n
        assert any(last in f for f in ours)
        assert healthy == 200
    finally:
        slow.close()
        fast.close()
