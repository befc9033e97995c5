"""``fieldflow bench ingest``: sustained msgs/s and latency through MQTT -> bridge -> Kafka.

Publisher processes (QoS 1, one connection per process; a minimal raw-socket MQTT
publisher by default, paho with ``--publisher paho``) send native readings
for ``--devices`` devices; each payload carries its sequence number and its publish
time (``metrics.n``, ``metrics.sent_ms``). This process reads ``telemetry.readings``
with confluent-kafka from the offsets it saw before publishing and measures:

- msgs/s: distinct readings of this run in Kafka / (last consumed - first published);
- p50/p99 latency: Kafka consume time - publish time (both on this machine's clock);
- lost: published (PUBACKed by the broker) - distinct consumed; must be 0.

Starts the embedded stack (``fieldflow up --detach``) when none runs in FIELDFLOW_HOME
and stops it afterwards (only if it started it).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.common import load_args, percentile
from bench.load import RawPublisher
from bench.stackctl import embedded_stack, mqtt_address

TOPIC = "telemetry.readings"


@dataclass
class PublisherReport:
    index: int
    published: int
    acked: int
    t_first: float
    t_last: float


def _publisher(
    index: int,
    host: str,
    port: int,
    devices: list[str],
    count: int,
    duration: float | None,
    rate: float,
    start_at: float,
    out: Any,
) -> None:
    """One publisher process: one paho connection, QoS 1, round-robin over its devices."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    acked = 0

    def on_publish(*_a: Any) -> None:
        nonlocal acked
        acked += 1

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"bench-pub-{index}-{uuid.uuid4().hex[:6]}",
    )
    client.max_inflight_messages_set(1000)
    client.on_publish = on_publish
    client.connect(host, port, keepalive=60)
    client.loop_start()
    while time.time() < start_at:
        time.sleep(0.005)
    seqs = dict.fromkeys(devices, 0)
    topics = {d: f"fieldflow/devices/{d}/telemetry" for d in devices}
    sent = 0
    t_first = time.time()
    deadline = t_first + duration if duration else None
    n_dev = len(devices)
    while True:
        if deadline is None:
            if sent >= count:
                break
        elif sent % 256 == 0 and time.time() >= deadline:
            break
        if rate > 0 and sent % 64 == 0:
            ahead = t_first + sent / rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
        if sent - acked > 5000:  # bound paho's own queue
            time.sleep(0.001)
            continue
        device = devices[sent % n_dev]
        n = seqs[device]
        seqs[device] = n + 1
        now = time.time()
        payload = f'{{"ts":{int(now * 1000)},"metrics":{{"n":{n},"sent_ms":{now * 1000:.3f}}}}}'
        client.publish(topics[device], payload, qos=1)
        sent += 1
    t_last = time.time()
    wait_until = time.time() + 60
    while acked < sent and time.time() < wait_until:
        time.sleep(0.01)
    client.loop_stop()
    client.disconnect()
    out.put(asdict(PublisherReport(index, sent, acked, t_first, t_last)))


def _raw_publisher(
    index: int,
    host: str,
    port: int,
    devices: list[str],
    count: int,
    duration: float | None,
    rate: float,
    start_at: float,
    out: Any,
) -> None:
    """One :class:`bench.load.RawPublisher` process: batches of 100 PUBLISHes per
    write, so the load generator leaves the cores to the bridge."""
    pub = RawPublisher(host, port, f"bench-raw-{index}-{uuid.uuid4().hex[:6]}")
    topics = {d: f"fieldflow/devices/{d}/telemetry" for d in devices}
    seqs = dict.fromkeys(devices, 0)
    n_dev = len(devices)
    while time.time() < start_at:
        time.sleep(0.005)
    t_first = time.time()
    deadline = t_first + duration if duration else None
    while True:
        if deadline is None:
            if pub.sent >= count:
                break
        elif time.time() >= deadline:
            break
        if rate > 0:
            ahead = t_first + pub.sent / rate - time.time()
            if ahead > 0:
                time.sleep(ahead)
        now = time.time()
        ts = int(now * 1000)
        sent_ms = f"{now * 1000:.3f}"
        for _ in range(min(100, count - pub.sent) if deadline is None else 100):
            device = devices[pub.sent % n_dev]
            n = seqs[device]
            seqs[device] = n + 1
            pub.publish(topics[device],
                        f'{{"ts":{ts},"metrics":{{"n":{n},"sent_ms":{sent_ms}}}}}'.encode())
        pub.flush()
        while pub.sent - pub.acked > 5000:
            pub.read_acks(block=True)
    t_last = time.time()
    pub.wait_acked(60)
    pub.close()
    out.put(asdict(PublisherReport(index, pub.sent, pub.acked, t_first, t_last)))


def _metrics_text(url: str | None) -> str:
    if not url:
        return ""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as resp:  # our own localhost URL
            return str(resp.read().decode())
    except OSError:
        return ""


def run(args: argparse.Namespace) -> dict[str, Any]:
    from confluent_kafka import Consumer, TopicPartition
    from tqdm import tqdm

    with embedded_stack("ingest") as (status, started):
        return _measure(args, status, Consumer, TopicPartition, tqdm) | {"started_stack": started}


def _measure(
    args: argparse.Namespace, status: dict[str, Any], consumer_cls: Any, tp_cls: Any, tqdm: Any
) -> dict[str, Any]:
    host, port = mqtt_address(status)
    run_id = uuid.uuid4().hex[:6]
    devices = [f"bench-{run_id}-{d:04d}" for d in range(args.devices)]
    wanted = set(devices)
    consumer = consumer_cls(
        {
            "bootstrap.servers": status["kafka_bootstrap"],
            "group.id": f"bench-{run_id}",
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 20,
        }
    )
    meta = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC]
    parts = []
    for p in meta.partitions:
        _low, high = consumer.get_watermark_offsets(tp_cls(TOPIC, p), timeout=10)
        parts.append(tp_cls(TOPIC, p, high))
    consumer.assign(parts)
    consumer.poll(0.1)

    procs = max(1, args.publishers)
    total = args.messages if not args.duration else 0
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    start_at = time.time() + 3.0  # publishers import paho meanwhile
    workers = []
    for i in range(procs):
        share = devices[i::procs]
        count = total // procs + (1 if i < total % procs else 0)
        proc = ctx.Process(
            target=_raw_publisher if args.publisher == "raw" else _publisher,
            args=(i, host, int(port), share, count, args.duration, args.rate / procs, start_at,
                  queue),
            daemon=True,
        )
        proc.start()
        workers.append(proc)

    seen: set[tuple[str, int]] = set()
    latencies: list[float] = []
    per_second: dict[int, int] = {}
    duplicates = 0
    reports: list[dict[str, Any]] = []
    t_last_consumed = 0.0
    bar = tqdm(total=total or None, unit="msg", desc="MQTT->Kafka", smoothing=0.1,
               mininterval=1.0)
    idle_deadline: float | None = None
    while True:
        batch = consumer.consume(2000, 0.2)
        now = time.time()
        fresh = 0
        for msg in batch:
            if msg.error() is not None:
                continue
            key = msg.key()
            if key is None or key.decode() not in wanted:
                continue
            value = json.loads(msg.value())
            ident = (value["device_id"], int(value["metrics"]["n"]))
            if ident in seen:
                duplicates += 1
                continue
            seen.add(ident)
            fresh += 1
            latencies.append(now * 1000 - value["metrics"]["sent_ms"])
            sec = int(now - start_at)
            per_second[sec] = per_second.get(sec, 0) + 1
        if fresh:
            t_last_consumed = now
            bar.update(fresh)
        while not queue.empty():
            reports.append(queue.get())
        if len(reports) == procs:
            published = sum(r["acked"] for r in reports)
            if bar.total is None:
                bar.total = published
                bar.refresh()
            if len(seen) >= published:
                break
            if idle_deadline is None or fresh:
                idle_deadline = now + args.drain_timeout
            if now > idle_deadline:
                break
    bar.close()
    consumer.close()
    for proc in workers:
        proc.join(10)
    published = sum(r["acked"] for r in reports)
    t0 = min(r["t_first"] for r in reports)
    t_pub_end = max(r["t_last"] for r in reports)
    elapsed = max(1e-9, t_last_consumed - t0)
    lost = max(0, published - len(seen))
    return {
        "msgs_per_s": round(len(seen) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "lost": lost,
        "published": published,
        "consumed_distinct": len(seen),
        "duplicates": duplicates,
        "publish_msgs_per_s": round(published / max(1e-9, t_pub_end - t0), 1),
        "elapsed_s": round(elapsed, 2),
        "publishers": procs,
        "devices": args.devices,
        "rate": args.rate,
        "publisher": args.publisher,
        "per_second": [per_second.get(s, 0) for s in range(max(per_second, default=-1) + 1)],
        "latency_sample_ms": latencies[:: max(1, len(latencies) // 5000)],
        "bridge_metrics": _metrics_text(status.get("metrics_url")),
    }


def _plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(result["per_second"], marker=".")
    ax1.set_xlabel("second of the run")
    ax1.set_ylabel("readings landed in Kafka per second")
    ax1.set_title(f"sustained {result['msgs_per_s']:.0f} msgs/s, lost {result['lost']}")
    ax2.hist(result["latency_sample_ms"], bins=60)
    ax2.set_xlabel("MQTT publish -> Kafka consume (ms)")
    ax2.set_title(f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fieldflow bench ingest", description=__doc__.split("\n")[0])
    size = p.add_mutually_exclusive_group()
    size.add_argument("--messages", type=int, default=200_000, help="readings to publish")
    size.add_argument("--duration", type=float, help="publish for S seconds instead")
    p.add_argument("--devices", type=int, default=200, help="distinct device ids (Kafka keys)")
    p.add_argument("--publisher", choices=("raw", "paho"), default="raw",
                   help="a minimal raw-socket MQTT publisher (default: it leaves the 2 cores "
                        "to what is measured), or paho clients (they cap near 4,000 msgs/s)")
    p.add_argument("--rate", type=float, default=0, help="offered msgs/s in total (0 = max)")
    load_args(p, drain_timeout_s=30, publishers_help="publisher processes (connections)")
    args = p.parse_args(argv)

    result = run(args)
    rows = [
        ("published (PUBACKed)", f"{result['published']:,}"),
        ("in Kafka (distinct)", f"{result['consumed_distinct']:,}"),
        ("duplicates", f"{result['duplicates']:,}"),
        ("lost", f"{result['lost']:,}"),
        ("publish rate msgs/s", f"{result['publish_msgs_per_s']:,.0f}"),
        ("sustained msgs/s", f"{result['msgs_per_s']:,.0f}"),
        ("latency p50 ms", f"{result['p50_ms']:.1f}"),
        ("latency p99 ms", f"{result['p99_ms']:.1f}"),
    ]
    print(f"\nMQTT -> bridge -> Kafka (native readings, QoS 1, {args.publishers} "
          f"{args.publisher} publishers, {args.devices} devices)")
    for label, value in rows:
        print(f"  {label:22} {value:>12}")
    headline = {k: result[k] for k in ("msgs_per_s", "p50_ms", "p99_ms", "lost")}
    if args.json:
        Path(args.json).write_text(json.dumps(headline, indent=2) + "\n")
    if args.out_dir:
        out = Path(args.out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        (out / f"ingest-{stamp}.json").write_text(json.dumps(result, indent=2) + "\n")
        _plot(result, out / f"ingest-{stamp}.png")
        print(f"  report {out / f'ingest-{stamp}.json'} and .png")
    verdict = "no loss" if result["lost"] == 0 else f"LOST {result['lost']}"
    print(
        f"ingest: {result['msgs_per_s']:,.0f} msgs/s sustained, p50 {result['p50_ms']:.1f} ms, "
        f"p99 {result['p99_ms']:.1f} ms, {verdict}"
    )
    return 0 if result["lost"] == 0 else 1
