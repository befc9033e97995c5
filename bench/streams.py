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
import os
import time
import uuid
from pathlib import Path
from typing import Any

from bench.common import latency_summary, load_args, print_table, write_outputs
from bench.fleet import plan_load, retire_fleet, seed_fleet
from bench.load import Publishers, sum_per_second
from bench.procs import ProcessSampler
from bench.profiling import profile_summary, profile_worker
from bench.stackctl import embedded_stack, mqtt_address, service_pids
from bench.stages import breakdown, print_breakdown, snapshot
from bench.streams_measure import (
    READINGS_SENT,
    WO_TOPIC,
    Source,
    drain,
    kafka_offsets,
    plot_tail,
    store_latencies,
    stored_count,
    tail_line,
    wait_for_orders,
    workorder_latencies,
    worst_seconds,
)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from stack.settings import get_settings

    run_dir = get_settings().run_dir
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
        before = snapshot(status, run_dir)
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
        time.sleep(2.5)  # the workers write their stage timings every tick (2 s)
        after = snapshot(status, run_dir)
        fault_sent = {d: ms for r in reports for d, ms in r["fault_sent_ms"].items()}
        fault_assets = [fleet.assets[d] for d in fault_sent]
        orders = wait_for_orders(db, fault_assets, args.drain_timeout)
        source = Source("readings", "device_id", fleet.devices, READINGS_SENT)
        lat = store_latencies(db, [source], t_start)
        stages = breakdown(before, after, db, [source])
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
        "processes": {n: {**v, "cpu_us_per_msg": round(v["cpu_s"] * 1e6 / max(1, stored), 1)}
                      for n, v in processes.items()},
        "stages": stages,
        "load_average": list(os.getloadavg()),
        "publish_per_second": sum_per_second(reports),
        "args": vars(args),
        "started_stack": started,
    }


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    lat = result["reading_latency"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4))
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
    plot_tail(ax3, lat["p99_ms_per_second"])
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
    print_breakdown(r, per="reading")
    worst = worst_seconds(r["reading_latency"]["p99_ms_per_second"])
    print(tail_line(worst), flush=True)
    headline = {k: r[k] for k in ("events_per_s", "events_per_s_per_worker", "workers",
                                  "offered_per_s", "p50_ms", "p99_ms", "lost", "stages",
                                  "load_average")}
    headline["worst_seconds"] = worst
    headline["work_order"] = {k: wo[k] for k in ("count", "p50_ms", "p95_ms", "p99_ms")}
    headline["processes"] = {n: {k: v[k] for k in ("cpu_pct", "cpu_us_per_msg", "rss_mb")}
                             for n, v in r["processes"].items()}
    headline["args"] = {k: v for k, v in vars(args).items() if k not in ("json", "out_dir")}
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
