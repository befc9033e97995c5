"""The bridge's lean MQTT session against a real mosquitto (no stack needed).

- a QoS 1 message the session did not ack is redelivered to the next session with the
  same client id (persistent session), an acked one is not;
- the session notices a broker restart, reconnects by itself (backoff) and receives
  what is published afterwards.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ingest.mqtt_wire import Session
from stack.procs import free_port

pytestmark = pytest.mark.skipif(not shutil.which("mosquitto"), reason="mosquitto not on PATH")


class Broker:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.conf = tmp / "mosquitto.conf"
        # As the embedded broker (stack/bootstrap.py): mosquitto's defaults (20 in flight,
        # 1,000 queued per client) would drop QoS 1 messages for a subscriber that lags.
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                             f"persistence true\npersistence_location {tmp}/\nuser root\n"
                             "max_inflight_messages 1000\nmax_queued_messages 1000000\n")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()  # saves the persistent sessions
            self.proc.wait(10)
            self.proc = None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, bytes, int, int]] = []
        self.cond = threading.Condition()

    def __call__(self, topic: str, payload: bytes, qos: int, mid: int) -> None:
        with self.cond:
            self.messages.append((topic, payload, qos, mid))
            self.cond.notify_all()

    def wait_for(self, n: int, timeout: float = 10) -> list[tuple[str, bytes, int, int]]:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.messages) >= n, timeout), self.messages
            return list(self.messages)


def _session(broker: Broker, client_id: str, inbox: Inbox) -> Session:
    s = Session("127.0.0.1", broker.port, client_id, [("t/+", 1)], inbox, keepalive=5,
                min_backoff=0.2, max_backoff=1)
    s.start()
    assert s.connected.wait(10)
    return s


def _publish(broker: Broker, *payloads: bytes) -> None:
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid.uuid4().hex[:6]}")
    c.connect("127.0.0.1", broker.port)
    c.loop_start()
    for i, p in enumerate(payloads):
        c.publish(f"t/{i}", p, qos=1).wait_for_publish(5)
    c.loop_stop()
    c.disconnect()


def test_unacked_messages_are_redelivered_to_the_next_session(broker: Broker) -> None:
    cid = f"bridge-{uuid.uuid4().hex[:6]}"
    first = Inbox()
    session = _session(broker, cid, first)
    _publish(broker, b"a", b"b", b"c")
    got = first.wait_for(3)
    assert [(t, p, q) for t, p, q, _m in got] == [("t/0", b"a", 1), ("t/1", b"b", 1),
                                                   ("t/2", b"c", 1)]
    assert session.ack([got[0][3]])  # only "a" reached Kafka, say
    time.sleep(0.3)
    session.stop()

    second = Inbox()
    session = _session(broker, cid, second)
    redelivered = second.wait_for(2)
    time.sleep(0.5)
    assert sorted(p for _t, p, _q, _m in second.messages) == [b"b", b"c"]
    assert session.ack([m for *_x, m in redelivered])
    time.sleep(0.3)
    session.stop()

    third = Inbox()
    session = _session(broker, cid, third)
    time.sleep(1.0)
    assert third.messages == []  # all acked: nothing comes back
    session.stop()


def test_the_session_reconnects_after_a_broker_restart(broker: Broker) -> None:
    cid = f"bridge-{uuid.uuid4().hex[:6]}"
    inbox = Inbox()
    session = _session(broker, cid, inbox)
    _publish(broker, b"before")
    [(_t, _p, _q, mid)] = inbox.wait_for(1)
    session.ack([mid])
    time.sleep(0.3)
    broker.stop()
    deadline = time.monotonic() + 10
    while session.connected.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not session.connected.is_set()
    broker.start()
    assert session.connected.wait(15)  # backoff capped at 1 s here
    _publish(broker, b"after")
    got = inbox.wait_for(2)
    assert got[-1][1] == b"after"
    session.stop()


def test_the_bench_raw_publisher_delivers_every_message_once(broker: Broker) -> None:
    """bench.load.RawPublisher (the benchmarks' load generator) -> mosquitto -> Session:
    every QoS 1 message arrives and every one is PUBACKed to the publisher."""
    from bench.load import RawPublisher

    class AckingInbox(Inbox):  # ack as they come: the broker holds 1,000 unacked at most
        session: Session | None = None

        def __call__(self, topic: str, payload: bytes, qos: int, mid: int) -> None:
            super().__call__(topic, payload, qos, mid)
            if self.session is not None:
                self.session.ack([mid])

    inbox = AckingInbox()
    session = inbox.session = _session(broker, f"bridge-{uuid.uuid4().hex[:6]}", inbox)
    pub = RawPublisher("127.0.0.1", broker.port, f"raw-{uuid.uuid4().hex[:6]}")
    n = 3000
    for i in range(n):
        pub.publish(f"t/{i % 7}", b"%d" % i)
    pub.wait_acked(10)
    pub.close()
    got = inbox.wait_for(n)
    assert pub.acked == pub.sent == n
    assert sorted(int(p) for _t, p, _q, _m in got) == list(range(n))
    session.stop()
