"""Helpers shared by the ``fieldflow bench`` suite (no benchmark logic of its own).

- :func:`embedded_stack`: use the stack running in ``FIELDFLOW_HOME``, or start one with
  ``fieldflow up --detach`` and stop it afterwards (only what this process started);
- :class:`ProcessSampler`: CPU and RSS of named processes (and their children) with psutil;
- :func:`percentile`, :func:`latency_summary`: nearest-rank percentiles;
- :func:`print_table`, :func:`write_outputs`: the table, the headline JSON, a full JSON
  report and a PNG under the output directory;
- :class:`RawPublisher`: a minimal MQTT 3.1.1 QoS 1 publisher on a raw socket (batched
  writes, PUBACKs counted): the load generator costs little CPU, so the two cores go to
  what is measured (a paho publisher costs ~130 µs per QoS 1 message here);
- :func:`publish_load`: one publisher process for device readings and phone positions,
  with timestamps unique per source and the publish time embedded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SERVICES = ("postgres", "kafka", "mqtt", "bridge", "worker", "api")
ONE_SHOT_SERVICES = ("fault-model",)  # jobs a first start runs once in the background


# -- the stack ---------------------------------------------------------------------------
def stack_env(home: str | Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if home:
        env["FIELDFLOW_HOME"] = str(home)
    return env


def fieldflow(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stack.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def stack_status(env: dict[str, str]) -> dict[str, Any]:
    out = fieldflow(env, "status", "--json", timeout=60)
    try:
        result: dict[str, Any] = json.loads(out.stdout)
    except json.JSONDecodeError:
        return {"running": False}
    return result


@contextlib.contextmanager
def embedded_stack(
    name: str, env: dict[str, str] | None = None, *, workers: int | None = None
) -> Iterator[tuple[dict[str, Any], bool]]:
    """Yield ``(status, started)``: the running stack's status, or one started for us
    (with ``workers`` stream workers; a running stack must already have that many)."""
    env = env or stack_env()
    status = stack_status(env)
    started = False
    running = [n for n in status.get("services", {}) if n.startswith("worker")]
    if status.get("running") and workers and len(running) != workers:
        raise SystemExit(f"bench {name}: the running stack has {len(running)} workers, not"
                         f" {workers}: fieldflow down first, or drop --workers")
    if not status.get("running"):
        # The benchmarks' publishers connect without a login (figures comparable with
        # earlier runs): a stack started for them has MQTT authentication off, unless
        # the caller's environment says otherwise.
        env = {"FIELDFLOW_MQTT_AUTH": "false", **env}
        print(
            f"bench {name}: no stack running in FIELDFLOW_HOME; starting one (fieldflow up)",
            flush=True,
        )
        more = ["--workers", str(workers)] if workers else []
        up = fieldflow(env, "up", "--detach", *more, timeout=600)
        if up.returncode != 0:
            raise SystemExit(f"bench {name}: fieldflow up failed:\n{up.stdout}{up.stderr}")
        started = True
        status = _wait_for_one_shot_jobs(name, env)
    try:
        yield status, started
    finally:
        if started:
            print(f"bench {name}: stopping the stack it started (fieldflow down)", flush=True)
            fieldflow(env, "down", timeout=180)


def _wait_for_one_shot_jobs(name: str, env: dict[str, str],
                            timeout_s: float = 600) -> dict[str, Any]:
    """A first start trains the fault model in the background (the one-shot
    ``fault-model`` service, ~10 s of a core); measure after it, not beside it."""
    deadline = time.monotonic() + timeout_s
    status = stack_status(env)
    told = False
    while time.monotonic() < deadline:
        busy = [n for n in ONE_SHOT_SERVICES
                if status.get("services", {}).get(n, {}).get("state") == "running"]
        if not busy:
            break
        if not told:
            print(f"bench {name}: waiting for {', '.join(busy)} (first start only)", flush=True)
            told = True
        time.sleep(1)
        status = stack_status(env)
    return status


def load_args(p: argparse.ArgumentParser, *, drain_timeout_s: float,
              publishers_help: str = "publisher processes") -> None:
    """The options every load benchmark shares: publishers, drain timeout and outputs."""
    p.add_argument("--publishers", type=int, default=2, help=publishers_help)
    p.add_argument("--drain-timeout", type=float, default=drain_timeout_s,
                   help="s without progress to stop")
    p.add_argument("--json", help="write the headline figures here")
    p.add_argument("--out-dir", help="write a JSON report and a PNG here")


def mqtt_address(status: dict[str, Any]) -> tuple[str, int]:
    host, _, port = str(status["mqtt_url"]).removeprefix("mqtt://").rpartition(":")
    return host, int(port)


def service_pids(status: dict[str, Any], names: Sequence[str] = SERVICES) -> dict[str, int]:
    """Pids of the embedded services from ``fieldflow status --json`` (external ones skipped)."""
    pids = {}
    # every stream worker (worker-1 .. worker-N) stands in for "worker"
    names = [n for name in names for n in (
        sorted(k for k in status.get("services", {}) if k.startswith("worker-"))
        if name == "worker" else [name])]
    for name in names:
        svc = status.get("services", {}).get(name, {})
        if isinstance(svc.get("pid"), int) and not svc.get("external"):
            pids[name] = svc["pid"]
    return pids


# -- statistics --------------------------------------------------------------------------
def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return float(ordered[min(len(ordered), rank) - 1])


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 0.50), 1),
        "p95_ms": round(percentile(values, 0.95), 1),
        "p99_ms": round(percentile(values, 0.99), 1),
        "max_ms": round(max(values), 1) if values else math.nan,
    }


# -- processes ---------------------------------------------------------------------------
@dataclass
class _Usage:
    cpu_s: float = 0.0
    rss_samples: list[float] = field(default_factory=list)
    base: dict[int, float] = field(default_factory=dict)  # pid -> cpu seconds at first sight
    last: dict[int, float] = field(default_factory=dict)  # pid -> latest cpu seconds


class ProcessSampler:
    """CPU (100 = one core, averaged over the run) and RSS of named process trees.

    CPU comes from the processes' own counters (user + system seconds), so a short
    sampling interval only matters for RSS and for children that exit mid-run.
    RSS of a tree is the sum over its processes (PostgreSQL's backends share memory,
    so its figure overstates what it really holds).
    """

    def __init__(self, pids: Mapping[str, int | list[int]], interval_s: float = 1.0) -> None:
        import psutil

        self._psutil = psutil
        # name -> root pids (their children are counted with them)
        self.pids = {name: [p] if isinstance(p, int) else list(p) for name, p in pids.items()}
        self.interval_s = interval_s
        self._usage = {name: _Usage() for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="proc-sampler", daemon=True)
        self._t0 = self._t1 = 0.0

    def add(self, name: str, pids: list[int]) -> None:
        """Also follow ``pids`` (started after :meth:`start`: all their CPU counts)."""
        self.pids[name] = list(pids)
        self._usage[name] = _Usage()

    def _tree(self, pids: list[int]) -> list[Any]:
        procs = []
        for pid in pids:
            try:
                root = self._psutil.Process(pid)
                procs += [root, *root.children(recursive=True)]
            except self._psutil.Error:
                continue
        return procs

    def sample(self, *, first: bool = False) -> None:
        for name, pid in self.pids.items():
            usage, rss = self._usage[name], 0.0
            for proc in self._tree(pid):
                try:
                    with proc.oneshot():
                        t = proc.cpu_times()
                        cpu = t.user + t.system
                        rss += proc.memory_info().rss
                except self._psutil.Error:
                    continue
                usage.base.setdefault(proc.pid, cpu if first else 0.0)
                usage.last[proc.pid] = cpu
            usage.rss_samples.append(rss / 2**20)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.sample()

    def start(self) -> ProcessSampler:
        self._t0 = time.monotonic()
        self.sample(first=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, dict[str, float]]:
        self._stop.set()
        self._thread.join(5)
        self.sample()
        self._t1 = time.monotonic()
        return self.result()

    def result(self) -> dict[str, dict[str, float]]:
        wall = max(1e-9, (self._t1 or time.monotonic()) - self._t0)
        out = {}
        for name, usage in self._usage.items():
            cpu_s = sum(usage.last[p] - usage.base.get(p, 0.0) for p in usage.last)
            rss = usage.rss_samples or [0.0]
            out[name] = {
                "cpu_pct": round(100 * cpu_s / wall, 1),
                "rss_mb": round(max(rss), 1),
                "rss_mb_mean": round(sum(rss) / len(rss), 1),
            }
        return out


# -- output ------------------------------------------------------------------------------
def print_table(
    title: str, rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None
) -> None:
    """Print ``rows`` as aligned columns (first column left, the others right)."""
    cells = [[str(c) for c in row] for row in ([header] if header else []) + list(rows)]
    widths = [max(len(r[i]) for r in cells if i < len(r)) for i in range(max(map(len, cells)))]
    print(f"\n{title}")
    for n, row in enumerate(cells):
        line = "  ".join(
            c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)
        )
        print(f"  {line}")
        if header and n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def write_outputs(
    name: str,
    result: dict[str, Any],
    headline: dict[str, Any],
    *,
    json_path: str | None,
    out_dir: str | None,
    plot: Callable[[dict[str, Any], Path], None] | None = None,
) -> list[Path]:
    """Write the headline JSON to ``json_path`` and ``NAME-STAMP.json``/``.png`` under out_dir."""
    written = []
    if json_path:
        path = Path(json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(headline, indent=2) + "\n")
        written.append(path)
    if out_dir:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        report = out / f"{name}-{stamp}.json"
        report.write_text(json.dumps(result, indent=2, default=str) + "\n")
        written.append(report)
        if plot is not None:
            import matplotlib

            matplotlib.use("Agg")
            png = out / f"{name}-{stamp}.png"
            plot(result, png)
            written.append(png)
    return written


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
