"""``fieldflow bench streams``: readings through the whole stack into PostgreSQL, and
fault bursts into work orders.

Seeds (direct SQL) ``--devices`` devices on a few sites with the threshold rule
``temperature > 90 severity major as overheating`` and a few engineers, then publisher
processes (paho, QoS 1, one connection each) send readings at ``--rate`` for
``--duration`` seconds; ``--faults`` devices each send a burst of hot readings once,
at times spread over the run. Each reading carries its publish time (``metrics.sent_ms``).

- events/s per worker: readings stored / (last stored_at - first publish) / workers;
- p50/p99 reading: ``readings.stored_at`` (``clock_timestamp()`` at insert) - publish;
- p50/p99 work order: the ``new`` event's Kafka timestamp on ``events.workorders``
  (written right after the order's transaction commits) - publish of the first hot reading;
- lost: published (PUBACKed) - distinct readings stored; must be 0.

Starts the embedded stack when none runs in FIELDFLOW_HOME and stops only what it started.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    LoadPlan,
    ProcessSampler,
    Publishers,
    embedded_stack,
    latency_summary,
    load_args,
    mqtt_address,
    print_table,
    service_pids,
    write_outputs,
)

RULE = "temperature > 90 severity major as overheating"
ORIGIN = (51.5, -0.12)
WO_TOPIC = "events.workorders"


# -- seeding -----------------------------------------------------------------------------
@dataclass
class Fleet:
    prefix: str
    devices: list[str]
    assets: dict[str, str]  # device -> asset
    engineers: list[str] = field(default_factory=list)


def seed_fleet(
    database_url: str, prefix: str, devices: int, engineers: int, per_site: int = 50
) -> Fleet:
    """Customer, sites, one asset model with :data:`RULE`, assets with devices, engineers
    on shift all day (skill hvac) with a last known position. All ids start with prefix."""
    import random

    import psycopg
    from psycopg.types.json import Jsonb

    rng = random.Random(prefix)
    cust, model = f"{prefix}-cust", f"{prefix}-model"
    fleet = Fleet(prefix, [f"{prefix}-d{i:05d}" for i in range(devices)], {})
    n_sites = max(1, math.ceil(devices / per_site))
    sites = [
        (
            f"{prefix}-s{i:03d}",
            ORIGIN[0] + rng.uniform(-0.05, 0.05),
            ORIGIN[1] + rng.uniform(-0.08, 0.08),
        )
        for i in range(n_sites)
    ]
    with psycopg.connect(database_url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "INSERT INTO customers (id, name, sla_tier) VALUES (%s, 'Bench', 'gold')", (cust,)
        )
        conn.execute(
            "INSERT INTO asset_models (id, name, required_skills, rules,"
            " reading_timeout_s) VALUES (%s, 'Bench chiller', '{hvac}', %s, 2592000)",
            (model, Jsonb([RULE])),
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO sites (id, customer_id, name, lat, lon, fence_radius_m)"
                " VALUES (%s, %s, %s, %s, %s, 100)",
                [(sid, cust, sid, lat, lon) for sid, lat, lon in sites],
            )
            rows = []
            for i, dev in enumerate(fleet.devices):
                asset = f"{prefix}-a{i:05d}"
                fleet.assets[dev] = asset
                rows.append((asset, sites[i % n_sites][0], model, dev))
            cur.executemany(
                "INSERT INTO assets (id, site_id, model_id, serial, device_id)"
                " VALUES (%s, %s, %s, 'SN', %s)",
                rows,
            )
            fleet.engineers = [f"{prefix}-e{i:04d}" for i in range(engineers)]
            spots = [
                (ORIGIN[0] + rng.uniform(-0.05, 0.05), ORIGIN[1] + rng.uniform(-0.08, 0.08))
                for _ in fleet.engineers
            ]
            cur.executemany(
                "INSERT INTO engineers (id, name, skills, shift_start, shift_end,"
                " home_lat, home_lon, status) VALUES (%s, %s, '{hvac}', '00:00',"
                " '23:59:59', %s, %s, 'online')",
                [(e, e, la, lo) for e, (la, lo) in zip(fleet.engineers, spots, strict=True)],
            )
            cur.executemany(
                "INSERT INTO engineer_last_position (engineer_id, ts, lat, lon,"
                " source) VALUES (%s, now(), %s, %s, 'native')",
                [(e, la, lo) for e, (la, lo) in zip(fleet.engineers, spots, strict=True)],
            )
    return fleet


def retire_fleet(database_url: str, fleet: Fleet) -> None:
    """After a run: cancel the run's open orders and take its engineers out of dispatch,
    so a stack that keeps running (a demo, say) is not left with bench work."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE work_orders SET status = 'cancelled', updated_at = now()"
            " WHERE asset_id = ANY(%s) AND status NOT IN"
            " ('completed', 'signed_off', 'closed', 'cancelled')",
            (list(fleet.assets.values()),),
        )
        conn.execute(
            "UPDATE engineers SET skills = '{}', status = 'offline' WHERE id = ANY(%s)",
            (fleet.engineers,),
        )


# -- measuring ---------------------------------------------------------------------------
def stored_count(database_url: str, table: str, column: str, ids: list[str]) -> int:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            f"SELECT count(*) FROM {table} WHERE {column} = ANY(%s)", (ids,)
        ).fetchone()
    return int(row[0]) if row else 0


def drain(count: Callable[[], int], expected: int, stall_s: float) -> int:
    """Wait until ``count()`` reaches ``expected`` or does not move for ``stall_s``."""
    last, last_change = -1, time.monotonic()
    while True:
        n = count()
        if n >= expected:
            return n
        if n != last:
            last, last_change = n, time.monotonic()
        elif time.monotonic() - last_change > stall_s:
            return n
        time.sleep(1.0)


READINGS_SENT = "(metrics->>'sent_ms')::float8"  # publish time carried in the reading
POSITIONS_SENT = "extract(epoch FROM ts)::float8 * 1000"  # a phone's ts is its publish time


@dataclass(frozen=True)
class Source:
    """Rows of one run in one telemetry table, and how to get their publish time."""

    table: str  # readings | positions (fixed names, never user input)
    column: str
    ids: list[str]
    sent_expr: str


def store_latencies(database_url: str, sources: list[Source], t0: float) -> dict[str, Any]:
    """Latency publish -> stored over the sources' rows (in SQL), and stored per second."""
    import psycopg

    parts, params = [], []
    for src in sources:
        parts.append(
            "SELECT extract(epoch FROM stored_at)::float8 * 1000 AS stored_ms,"
            f" {src.sent_expr} AS sent_ms FROM {src.table} WHERE {src.column} = ANY(%s)"
        )
        params.append(src.ids)
    sql = " UNION ALL ".join(parts)
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*), percentile_disc(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP"
            " (ORDER BY stored_ms - sent_ms), max(stored_ms - sent_ms), min(sent_ms),"
            f" max(stored_ms) FROM ({sql}) l",
            params,
        ).fetchone()
        per_s = conn.execute(
            f"SELECT floor((stored_ms - %s) / 1000)::int, count(*) FROM ({sql}) l"
            " GROUP BY 1 ORDER BY 1",
            [t0 * 1000, *params],
        ).fetchall()
        sample = [
            r[0]
            for r in conn.execute(
                f"SELECT stored_ms - sent_ms FROM ({sql}) l ORDER BY random() LIMIT 5000", params
            )
        ]
    assert row is not None
    count, pcts, worst, first_sent, last_stored = row
    pcts = pcts or [math.nan] * 3
    seconds = max((s for s, _ in per_s), default=-1) + 1
    counts: dict[int, int] = dict(per_s)
    return {
        "count": int(count),
        "p50_ms": round(float(pcts[0]), 1),
        "p95_ms": round(float(pcts[1]), 1),
        "p99_ms": round(float(pcts[2]), 1),
        "max_ms": round(float(worst), 1) if worst is not None else math.nan,
        "first_sent_ms": first_sent,
        "last_stored_ms": last_stored,
        "per_second": [int(counts.get(s, 0)) for s in range(max(0, seconds))],
        "sample_ms": [round(float(v), 1) for v in sample],
    }


def kafka_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    """High watermark of every partition of ``topic`` (where this run's events will start)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex}"})
    try:
        meta = consumer.list_topics(topic, timeout=10).topics[topic]
        return {
            p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
            for p in meta.partitions
        }
    finally:
        consumer.close()


def workorder_latencies(
    bootstrap: str, start: dict[int, int], fleet: Fleet, fault_sent_ms: dict[str, float]
) -> dict[str, float]:
    """Asset -> ms from the first hot reading's publish to its order's ``new`` event."""
    from confluent_kafka import Consumer, TopicPartition

    device_of = {a: d for d, a in fleet.assets.items()}
    end = kafka_offsets(bootstrap, WO_TOPIC)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4().hex}",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(WO_TOPIC, p, o) for p, o in start.items()])
    out: dict[str, float] = {}
    todo = {p for p in start if end.get(p, 0) > start[p]}
    deadline = time.monotonic() + 30
    try:
        while todo and time.monotonic() < deadline:
            for msg in consumer.consume(1000, 0.5):
                if msg.error() is not None:
                    continue
                part, offset, value = msg.partition(), msg.offset(), msg.value()
                if part is None or offset is None or value is None:
                    continue
                if offset >= end[part] - 1:
                    todo.discard(part)
                ev = json.loads(value)
                asset = (ev.get("details") or {}).get("asset_id")
                device = device_of.get(asset or "")
                if (ev.get("to_status") == "new" and asset and device in fault_sent_ms
                        and asset not in out):
                    out[asset] = msg.timestamp()[1] - fault_sent_ms[device]
    finally:
        consumer.close()
    return out


def wait_for_orders(database_url: str, assets: list[str], timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    n = 0
    while time.monotonic() < deadline:
        n = stored_count(database_url, "work_orders", "asset_id", assets)
        if n >= len(assets):
            break
        time.sleep(1.0)
    return n


def plan_load(
    host: str,
    port: int,
    fleet: Fleet,
    *,
    publishers: int,
    rate: float,
    duration: float,
    faults: int,
    phones: list[str] | None = None,
    phone_interval_s: float = 1.0,
) -> list[LoadPlan]:
    """Split devices, phones and fault times (spread over 15%..75% of the run) over processes."""
    fault_devs = fleet.devices[:: max(1, len(fleet.devices) // max(1, faults))][:faults]
    when = {
        d: duration * (0.15 + 0.6 * i / max(1, len(fault_devs))) for i, d in enumerate(fault_devs)
    }
    start_at = time.time() + 3.0  # the processes import paho meanwhile
    plans = []
    for i in range(publishers):
        devs = fleet.devices[i::publishers]
        plans.append(
            LoadPlan(
                index=i,
                host=host,
                port=port,
                devices=devs,
                rate=rate / publishers,
                duration_s=duration,
                start_at=start_at,
                phones=(phones or [])[i::publishers],
                phone_interval_s=phone_interval_s,
                faults={d: when[d] for d in devs if d in when},
                origin=ORIGIN,
            )
        )
    return plans


def profile_worker(pid: int, seconds: float, path: Path) -> subprocess.Popen[bytes] | None:
    """py-spy (if installed) samples the worker for ``seconds`` into collapsed stacks."""
    exe = Path(sys.executable).with_name("py-spy")
    if not exe.exists():
        print("bench: py-spy not installed (pip install py-spy); no profile")
        return None
    return subprocess.Popen(
        [
            str(exe),
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "50",
            "-f",
            "raw",
            "-o",
            str(path),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def profile_summary(path: Path, top: int = 25) -> list[tuple[str, float, float]]:
    """(frame, inclusive %, self %) of the heaviest frames in py-spy's collapsed stacks."""
    if not path.exists():
        return []
    total, incl, own = 0, Counter[str](), Counter[str]()
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = [
            f.split(" (")[0] + " (" + f.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1] + ")"
            for f in stack.split(";")
        ]
        total += int(n)
        for f in set(frames):
            incl[f] += int(n)
        own[frames[-1]] += int(n)
    return [(f, 100 * c / total, 100 * own[f] / total) for f, c in incl.most_common(top)]


# -- the run -----------------------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    with embedded_stack("streams") as (status, started):
        db, kafka = status["database_url"], status["kafka_bootstrap"]
        host, port = mqtt_address(status)
        prefix = f"bs-{uuid.uuid4().hex[:6]}"
        fleet = seed_fleet(db, prefix, args.devices, args.engineers)
        print(
            f"bench streams: seeded {len(fleet.devices)} devices, {len(fleet.engineers)} "
            f"engineers ({prefix}); waiting for the worker to load them",
            flush=True,
        )
        time.sleep(6)  # the agents reload devices and rules every refresh_s (5 s)
        wo_start = kafka_offsets(kafka, WO_TOPIC)
        plans = plan_load(
            host,
            port,
            fleet,
            publishers=args.publishers,
            rate=args.rate,
            duration=args.duration,
            faults=args.faults,
        )
        pids = service_pids(status)
        pubs = Publishers(plans)
        sampler = ProcessSampler(pids)
        profiler = None
        if args.profile and "worker" in pids:
            profiler = profile_worker(pids["worker"], args.duration + 3, Path(args.profile))
        sampler.start()
        pub_pids = pubs.start()
        sampler.add("publishers", pub_pids)
        t_start = plans[0].start_at
        reports = pubs.collect(args.duration + 120)
        published = sum(r["acked"] for r in reports)
        print(f"bench streams: published {published:,} readings; draining", flush=True)
        stored = drain(
            lambda: stored_count(db, "readings", "device_id", fleet.devices),
            published,
            args.drain_timeout,
        )
        processes = sampler.stop()
        fault_sent = {d: ms for r in reports for d, ms in r["fault_sent_ms"].items()}
        fault_assets = [fleet.assets[d] for d in fault_sent]
        orders = wait_for_orders(db, fault_assets, args.drain_timeout)
        lat = store_latencies(
            db, [Source("readings", "device_id", fleet.devices, READINGS_SENT)], t_start
        )
        wo = workorder_latencies(kafka, wo_start, fleet, fault_sent)
        if profiler is not None:
            profiler.wait(30)
        retire_fleet(db, fleet)
    workers = sum(1 for name in status.get("services", {}) if name.startswith("worker"))
    elapsed = max(1e-9, (lat["last_stored_ms"] or 0) / 1000 - min(r["t_first"] for r in reports))
    t_pub = max(r["t_last"] for r in reports) - min(r["t_first"] for r in reports)
    wo_summary = latency_summary(list(wo.values()))
    return {
        "events_per_s": round(stored / elapsed / max(1, workers), 1),
        "p50_ms": lat["p50_ms"],
        "p99_ms": lat["p99_ms"],
        "lost": max(0, published - stored),
        "workers": workers,
        "published": published,
        "stored": stored,
        "sent": sum(r["sent"] for r in reports),
        "offered_per_s": round(published / max(1e-9, t_pub), 1),
        "elapsed_s": round(elapsed, 2),
        "reading_latency": lat,
        "faults": len(fault_sent),
        "work_orders": orders,
        "work_order_latency": wo_summary,
        "work_order_latency_ms": sorted(round(v, 1) for v in wo.values()),
        "processes": processes,
        "publish_per_second": _sum_per_second(reports),
        "args": vars(args),
        "started_stack": started,
    }


def _sum_per_second(reports: list[dict[str, Any]]) -> list[int]:
    out: list[int] = []
    for r in reports:
        for s, n in enumerate(r["per_second"]):
            while len(out) <= s:
                out.append(0)
            out[s] += n
    return out


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    lat = result["reading_latency"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    ax1.plot(result["publish_per_second"], label="published")
    ax1.plot(lat["per_second"], label="stored")
    ax1.set_xlabel("second of the run")
    ax1.set_ylabel("readings per second")
    ax1.legend()
    ax1.set_title(f"{result['events_per_s']:,.0f} events/s per worker, lost {result['lost']}")
    ax2.hist(lat["sample_ms"], bins=60)
    ax2.set_xlabel("MQTT publish -> reading stored (ms)")
    ax2.set_title(f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fieldflow bench streams", description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=30, help="seconds of publishing")
    p.add_argument("--devices", type=int, default=1000, help="devices (one asset each)")
    p.add_argument("--rate", type=float, default=10_000, help="offered readings/s in total")
    p.add_argument("--faults", type=int, default=40, help="devices that send a fault burst")
    p.add_argument("--engineers", type=int, default=20, help="engineers to dispatch to")
    p.add_argument("--profile", metavar="FILE", help="py-spy the worker into FILE (collapsed)")
    load_args(p, drain_timeout_s=60)
    args = p.parse_args(argv)

    r = run(args)
    lat, wo = r["reading_latency"], r["work_order_latency"]
    print_table(
        "MQTT -> bridge -> Kafka -> faust worker -> PostgreSQL (readings, QoS 1)",
        [
            ("published (PUBACKed)", f"{r['published']:,}"),
            ("stored (distinct)", f"{r['stored']:,}"),
            ("lost", f"{r['lost']:,}"),
            ("offered readings/s", f"{r['offered_per_s']:,.0f}"),
            (f"events/s per worker ({r['workers']})", f"{r['events_per_s']:,.0f}"),
            ("publish -> stored p50 ms", f"{lat['p50_ms']:,.1f}"),
            ("publish -> stored p99 ms", f"{lat['p99_ms']:,.1f}"),
            ("fault bursts / work orders", f"{r['faults']} / {r['work_orders']}"),
            ("publish -> order p50 ms", f"{wo['p50_ms']:,.1f}"),
            ("publish -> order p99 ms", f"{wo['p99_ms']:,.1f}"),
            ("worker CPU %", f"{r['processes'].get('worker', {}).get('cpu_pct', math.nan):.0f}"),
        ],
    )
    if args.profile:
        print_table(
            f"worker profile (py-spy, {args.profile})",
            [(f[:90], f"{i:.1f}", f"{s:.1f}") for f, i, s in profile_summary(Path(args.profile))],
            header=("frame", "incl %", "self %"),
        )
    headline = {k: r[k] for k in ("events_per_s", "p50_ms", "p99_ms", "lost")}
    for path in write_outputs(
        "streams", r, headline, json_path=args.json, out_dir=args.out_dir, plot=plot
    ):
        print(f"  wrote {path}")
    verdict = "no loss" if r["lost"] == 0 else f"LOST {r['lost']}"
    print(
        f"streams: {r['events_per_s']:,.0f} events/s per worker, stored p50 {r['p50_ms']:.0f} ms"
        f" p99 {r['p99_ms']:.0f} ms, order p99 {wo['p99_ms']:.0f} ms, {verdict}"
    )
    return 0 if r["lost"] == 0 else 1
