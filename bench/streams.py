"""``fieldflow bench streams``: readings through the whole stack into PostgreSQL, and
fault bursts into work orders.

Seeds (direct SQL) ``--devices`` devices on a few sites with the threshold rule
``temperature > 90 severity major as overheating`` and a few engineers, then publisher
processes (paho, QoS 1, one connection each) send readings at ``--rate`` for
``--duration`` seconds; ``--faults`` devices each send a burst of hot readings once,
at times spread over the run. Each reading carries its publish time (``metrics.sent_ms``).

- events/s: readings stored / (last stored_at - first publish), all ``--workers`` together
  (and per worker);
- p50/p99 reading: ``readings.stored_at`` (``clock_timestamp()`` at insert) - publish;
- p50/p99 work order: the ``new`` event's Kafka timestamp on ``events.workorders``
  (written right after the order's transaction commits) - publish of the first hot reading;
- lost: published (PUBACKed) - distinct readings stored; must be 0.

Starts the embedded stack when none runs in FIELDFLOW_HOME and stops only what it started.
"""

from __future__ import annotations

import argparse
import math
import time
import uuid
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
from bench.profiling import profile_summary, profile_worker
from bench.streams_measure import (
    READINGS_SENT,
    WO_TOPIC,
    Source,
    drain,
    kafka_offsets,
    store_latencies,
    stored_count,
    wait_for_orders,
    workorder_latencies,
)

RULE = "temperature > 90 severity major as overheating"
ORIGIN = (51.5, -0.12)


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


def run(args: argparse.Namespace) -> dict[str, Any]:
    with embedded_stack("streams", workers=args.workers) as (status, started):
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
        if args.profile and "worker-1" in pids:
            profiler = profile_worker(pids["worker-1"], args.duration + 3, Path(args.profile))
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
        "events_per_s": round(stored / elapsed, 1),
        "events_per_s_per_worker": round(stored / elapsed / max(1, workers), 1),
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
    ax1.set_title(f"{result['events_per_s']:,.0f} events/s ({result['workers']} workers),"
                  f" lost {result['lost']}")
    ax2.hist(lat["sample_ms"], bins=60)
    ax2.set_xlabel("MQTT publish -> reading stored (ms)")
    ax2.set_title(f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _workers_cpu(processes: dict[str, Any]) -> float:
    cpu = [p.get("cpu_pct", math.nan) for n, p in processes.items() if n.startswith("worker")]
    return sum(cpu) if cpu else math.nan


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fieldflow bench streams", description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=30, help="seconds of publishing")
    p.add_argument("--devices", type=int, default=1000, help="devices (one asset each)")
    p.add_argument("--rate", type=float, default=10_000, help="offered readings/s in total")
    p.add_argument("--faults", type=int, default=40, help="devices that send a fault burst")
    p.add_argument("--engineers", type=int, default=20, help="engineers to dispatch to")
    p.add_argument("--profile", metavar="FILE", help="py-spy worker-1 into FILE (collapsed)")
    p.add_argument("--workers", type=int, help="stream workers of the stack it starts"
                   " (default: the setting, 1)")
    load_args(p, drain_timeout_s=60)
    args = p.parse_args(argv)

    r = run(args)
    lat, wo = r["reading_latency"], r["work_order_latency"]
    print_table(
        f"MQTT -> bridge -> Kafka -> {r['workers']} stream worker(s) -> PostgreSQL"
        " (readings, QoS 1)",
        [
            ("published (PUBACKed)", f"{r['published']:,}"),
            ("stored (distinct)", f"{r['stored']:,}"),
            ("lost", f"{r['lost']:,}"),
            ("offered readings/s", f"{r['offered_per_s']:,.0f}"),
            (f"events/s ({r['workers']} workers)", f"{r['events_per_s']:,.0f}"),
            ("events/s per worker", f"{r['events_per_s_per_worker']:,.0f}"),
            ("publish -> stored p50 ms", f"{lat['p50_ms']:,.1f}"),
            ("publish -> stored p99 ms", f"{lat['p99_ms']:,.1f}"),
            ("fault bursts / work orders", f"{r['faults']} / {r['work_orders']}"),
            ("publish -> order p50 ms", f"{wo['p50_ms']:,.1f}"),
            ("publish -> order p99 ms", f"{wo['p99_ms']:,.1f}"),
            ("workers CPU %", f"{_workers_cpu(r['processes']):.0f}"),
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
        f"streams: {r['events_per_s']:,.0f} events/s with {r['workers']} worker(s),"
        f" stored p50 {r['p50_ms']:.0f} ms"
        f" p99 {r['p99_ms']:.0f} ms, order p99 {wo['p99_ms']:.0f} ms, {verdict}"
    )
    return 0 if r["lost"] == 0 else 1
