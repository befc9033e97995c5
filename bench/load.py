"""The benchmarks' MQTT load generator.

- :class:`RawPublisher`: a minimal MQTT 3.1.1 QoS 1 publisher on a raw socket (batched
  writes, PUBACKs counted): the load generator costs little CPU, so the two cores go to
  what is measured (a paho publisher costs ~130 µs per QoS 1 message here);
- :func:`publish_load`: one publisher process for device readings and phone positions,
  with timestamps unique per source and the publish time embedded; :class:`Publishers`
  runs one per :class:`LoadPlan`.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


# -- load --------------------------------------------------------------------------------
class RawPublisher:
    """MQTT 3.1.1 QoS 1 publisher on a raw socket: PUBLISH packets are buffered and
    written together (at ``flush``, or when 16 KiB are waiting); ``acked`` counts the
    broker's PUBACKs (the only packets it sends us: 4 bytes each)."""

    def __init__(self, host: str, port: int, client_id: str) -> None:
        import socket

        from ingest.mqtt_wire import connect_packet

        self._socket = socket
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(connect_packet(client_id, clean_session=True, keepalive=0))
        connack = b""
        while len(connack) < 4:
            chunk = self.sock.recv(4 - len(connack))
            if not chunk:
                raise ConnectionError("MQTT broker closed the connection before CONNACK")
            connack += chunk
        if connack[0] != 0x20 or connack[3] != 0:
            raise ConnectionError(f"MQTT CONNACK refused: {connack!r}")
        self.sent = self.acked = 0
        self._buf = bytearray()
        self._rest = 0  # bytes of a PUBACK split across reads
        self._heads: dict[str, bytes] = {}

    def publish(self, topic: str, payload: bytes) -> None:
        from ingest.mqtt_wire import varlen

        head = self._heads.get(topic)
        if head is None:
            encoded = topic.encode()
            head = self._heads[topic] = len(encoded).to_bytes(2, "big") + encoded
        self.sent += 1
        mid = self.sent % 65535 + 1
        self._buf += b"\x32" + varlen(len(head) + 2 + len(payload)) + head
        self._buf += mid.to_bytes(2, "big") + payload
        if len(self._buf) >= 16384:
            self.flush()

    def flush(self) -> None:
        if self._buf:
            self.sock.sendall(self._buf)
            self._buf.clear()
        self.read_acks(block=False)

    def read_acks(self, *, block: bool) -> None:
        try:
            data = self.sock.recv(65536, 0 if block else self._socket.MSG_DONTWAIT)
        except BlockingIOError:
            return
        if not data and block:
            raise ConnectionError("MQTT broker closed the connection")
        total = self._rest + len(data)
        self.acked += total // 4
        self._rest = total % 4

    def wait_acked(self, timeout_s: float) -> None:
        self.flush()
        self.sock.settimeout(timeout_s)
        deadline = time.monotonic() + timeout_s
        with contextlib.suppress(TimeoutError):
            while self.acked < self.sent and time.monotonic() < deadline:
                self.read_acks(block=True)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.sendall(b"\xe0\x00")  # DISCONNECT
        self.sock.close()


@dataclass
class LoadPlan:
    """What one publisher process sends (picklable: it crosses a spawn boundary)."""

    index: int
    host: str
    port: int
    devices: list[str]
    rate: float  # readings/s from this process; 0 = as fast as the broker acks
    duration_s: float
    start_at: float  # wall clock
    phones: list[str] = field(default_factory=list)
    phone_interval_s: float = 1.0
    faults: dict[str, float] = field(default_factory=dict)  # device -> s after start
    burst: int = 3  # hot readings per fault
    origin: tuple[float, float] = (51.5, -0.12)
    max_unacked: int = 5000


@dataclass
class LoadReport:
    index: int
    sent: int = 0
    acked: int = 0
    readings: int = 0
    positions: int = 0
    t_first: float = 0.0
    t_last: float = 0.0
    per_second: list[int] = field(default_factory=list)
    fault_sent_ms: dict[str, float] = field(default_factory=dict)


def reading_payload(ts: int, sent_ms: float, temperature: float) -> str:
    return f'{{"ts":{ts},"metrics":{{"temperature":{temperature:.2f},"sent_ms":{sent_ms:.3f}}}}}'


def position_payload(ts: int, lat: float, lon: float) -> str:
    return f'{{"ts":{ts},"lat":{lat:.6f},"lon":{lon:.6f},"acc":8,"spd":8.0,"hdg":90,"batt":80}}'


def publish_load(plan: LoadPlan, out: Any) -> None:
    """Publisher process body: one :class:`RawPublisher` connection, QoS 1; puts a
    LoadReport dict on ``out``.

    Readings go round-robin over ``plan.devices`` at ``plan.rate``; a device in
    ``plan.faults`` sends ``plan.burst`` readings at 95 degrees once its time comes (the
    publish time of the first is reported); phones send a position every interval.
    Event timestamps are the publish time in ms, bumped by 1 ms when a source would
    repeat one (the tables' primary keys are (source, ts)).
    """
    import random

    rep = LoadReport(plan.index)
    client = RawPublisher(plan.host, plan.port, f"bench-load-{plan.index}-{uuid.uuid4().hex[:6]}")
    rng = random.Random(plan.index)
    last_ts: dict[str, int] = {}
    hot_left = dict.fromkeys(plan.faults, plan.burst)
    dev_topic = {d: f"fieldflow/devices/{d}/telemetry" for d in plan.devices}
    phone_topic = {p: f"fieldflow/engineers/{p}/location" for p in plan.phones}
    walk = {
        p: [plan.origin[0] + rng.uniform(-0.05, 0.05), plan.origin[1] + rng.uniform(-0.05, 0.05)]
        for p in plan.phones
    }

    def stamp(source: str, now_s: float) -> int:
        ts = max(int(now_s * 1000), last_ts.get(source, 0) + 1)
        last_ts[source] = ts
        return ts

    def send(topic: str, payload: str, now_s: float) -> None:
        client.publish(topic, payload.encode())
        rep.sent += 1
        sec = int(now_s - plan.start_at)
        while len(rep.per_second) <= sec:
            rep.per_second.append(0)
        rep.per_second[sec] += 1

    while time.time() < plan.start_at:
        time.sleep(0.005)
    rep.t_first = t0 = time.time()
    deadline = t0 + plan.duration_s
    next_phones = t0
    n_dev, i = len(plan.devices), 0
    last_flush = t0
    while True:
        now = time.time()
        if now >= deadline:
            break
        if now - last_flush >= 0.005:  # batched writes, at most 5 ms late
            client.flush()
            rep.acked = client.acked
            last_flush = now
        if plan.phones and now >= next_phones:
            for p in plan.phones:
                pos = walk[p]
                pos[0] += rng.gauss(0, 0.0002)
                pos[1] += rng.gauss(0, 0.0002)
                send(phone_topic[p], position_payload(stamp(p, now), pos[0], pos[1]), now)
                rep.positions += 1
            next_phones += plan.phone_interval_s
        if not n_dev:
            time.sleep(min(0.05, max(0.0, next_phones - time.time())))
            continue
        if plan.rate > 0 and i % 32 == 0:
            ahead = t0 + i / plan.rate - time.time()
            if ahead > 0:
                time.sleep(min(ahead, 0.005))
                continue
        if rep.sent - rep.acked > plan.max_unacked:  # bound what the broker holds for us
            client.read_acks(block=True)
            rep.acked = client.acked
            continue
        device = plan.devices[i % n_dev]
        i += 1
        temperature = 60 + 20 * rng.random()
        if hot_left.get(device) and now - t0 >= plan.faults[device]:
            if hot_left[device] == plan.burst:
                rep.fault_sent_ms[device] = now * 1000
            hot_left[device] -= 1
            temperature = 95.0
        send(dev_topic[device], reading_payload(stamp(device, now), now * 1000, temperature), now)
        rep.readings += 1
    rep.t_last = time.time()
    client.wait_acked(60)
    rep.acked = client.acked
    client.close()
    out.put(asdict(rep))


class Publishers:
    """One spawned process per :class:`LoadPlan`; ``start()`` gives their pids."""

    def __init__(self, plans: Sequence[LoadPlan]) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self._results: Any = ctx.Queue()
        self._procs = [
            ctx.Process(target=publish_load, args=(plan, self._results), daemon=True)
            for plan in plans
        ]

    def start(self) -> list[int]:
        for proc in self._procs:
            proc.start()
        return [p.pid for p in self._procs if p.pid is not None]

    def collect(self, timeout_s: float) -> list[dict[str, Any]]:
        """Wait for every report (or the timeout); the processes are gone afterwards."""
        import queue as queue_mod

        reports: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while len(reports) < len(self._procs) and time.monotonic() < deadline:
            with contextlib.suppress(queue_mod.Empty):
                reports.append(self._results.get(timeout=0.5))
        for proc in self._procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
        return reports


def sum_per_second(reports: list[dict[str, Any]]) -> list[int]:
    """Messages published in each second of the run, over every publisher's report."""
    out: list[int] = []
    for r in reports:
        for s, n in enumerate(r["per_second"]):
            out.extend([0] * (s + 1 - len(out)))
            out[s] += n
    return out
