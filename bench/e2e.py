"""``fieldflow bench e2e``: device fleet and engineers' phones through the whole stack.

``--devices`` devices publish native readings at ``--rate`` readings/s in total and
``--phones`` phones a GPS fix every ``--phone-interval`` seconds, over MQTT (paho,
QoS 1, ``--publishers`` processes), for ``--duration`` seconds; ``--faults`` devices send
one burst of hot readings each (rule ``temperature > 90``), which become alerts, work
orders and assignments. Everything is seeded by SQL under a run prefix.

Measured: sustained msgs/s (stored readings + positions / (last stored - first publish)),
p50/p95/p99 MQTT publish -> stored (``stored_at``, ``clock_timestamp()`` at insert) and
publish -> work order created (the ``new`` event's Kafka timestamp), CPU and RSS of each
process (psutil on the pids of ``fieldflow status --json``; PostgreSQL with its
backends), and loss (published - stored; must be 0).

Starts the embedded stack when none runs in FIELDFLOW_HOME and stops only what it started.
"""

from __future__ import annotations

import argparse
import math
import os
import uuid
from pathlib import Path
from typing import Any

from bench.common import latency_summary, load_args, print_table, write_outputs
from bench.fleet import plan_load, retire_fleet, seed_fleet
from bench.load import Publishers, sum_per_second
from bench.procs import ProcessSampler
from bench.profiling import profile_processes, profile_summary
from bench.stackctl import embedded_stack, mqtt_address, service_pids
from bench.stages import breakdown, print_breakdown, snapshot
from bench.streams_measure import (
    ALERT_TOPIC,
    POSITIONS_SENT,
    READINGS_SENT,
    WO_TOPIC,
    Source,
    alert_latencies,
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

REFERENCE = "ThingsBoard: ~5,000 msgs/s on 2 vCPU with Kafka + PostgreSQL at 95% CPU"


def run(args: argparse.Namespace) -> dict[str, Any]:
    import time

    from stack.settings import get_settings

    run_dir = get_settings().run_dir
    with embedded_stack("e2e", workers=args.workers) as (status, started):
        db, kafka = status["database_url"], status["kafka_bootstrap"]
        database = (f"TimescaleDB {status['timescaledb']}" if status.get("timescaledb")
                    else "plain PostgreSQL")
        print(f"bench e2e: database flavour: {database}", flush=True)
        host, port = mqtt_address(status)
        prefix = f"be-{uuid.uuid4().hex[:6]}"
        fleet = seed_fleet(db, prefix, args.devices, args.phones)
        print(
            f"bench e2e: seeded {args.devices} devices and {args.phones} engineers ({prefix});"
            " waiting for the worker to load them",
            flush=True,
        )
        time.sleep(6)  # the agents reload devices, sites and rules every refresh_s (5 s)
        wo_start = kafka_offsets(kafka, WO_TOPIC)
        alert_start = kafka_offsets(kafka, ALERT_TOPIC)
        plans = plan_load(
            host,
            port,
            fleet,
            publishers=args.publishers,
            rate=args.rate,
            duration=args.duration,
            faults=args.faults,
            phones=fleet.engineers,
            phone_interval_s=args.phone_interval,
        )
        pids = service_pids(status)
        before = snapshot(status, run_dir)
        profilers = []
        if args.profile:
            profiled = {n: p for n, p in pids.items() if n in ("bridge", "api")
                        or n.startswith("worker")}
            profilers = profile_processes(profiled, args.duration + 3, Path(args.profile))
        sampler = ProcessSampler(pids).start()
        pubs = Publishers(plans)
        sampler.add("publishers", pubs.start())
        reports = pubs.collect(args.duration + 120)
        published = sum(r["acked"] for r in reports)
        print(f"bench e2e: published {published:,} messages; draining", flush=True)
        sources = [
            Source("readings", "device_id", fleet.devices, READINGS_SENT),
            Source("positions", "engineer_id", fleet.engineers, POSITIONS_SENT),
        ]

        def count() -> int:
            return sum(stored_count(db, s.table, s.column, s.ids) for s in sources)

        stored = drain(count, published, args.drain_timeout)
        processes = sampler.stop()
        time.sleep(2.5)  # the workers write their stage timings every tick (2 s)
        after = snapshot(status, run_dir)
        fault_sent = {d: ms for r in reports for d, ms in r["fault_sent_ms"].items()}
        orders = wait_for_orders(db, [fleet.assets[d] for d in fault_sent], args.drain_timeout)
        lat = store_latencies(db, sources, plans[0].start_at)
        per_source = {src.table: store_latencies(db, [src], plans[0].start_at)
                      for src in sources}
        wo = workorder_latencies(kafka, wo_start, fleet, fault_sent)
        alerts = alert_latencies(kafka, alert_start, fault_sent)
        stages = breakdown(before, after, db, sources)
        for prof in profilers:
            prof.wait(30)
        retire_fleet(db, fleet)
    t_first = min(r["t_first"] for r in reports)
    t_pub = max(r["t_last"] for r in reports) - t_first
    elapsed = max(1e-9, (lat["last_stored_ms"] or 0) / 1000 - t_first)
    wo_summary = latency_summary(list(wo.values()))
    al_summary = latency_summary(list(alerts.values()))
    for table, one in per_source.items():
        stages[f"{table}: publish -> stored"] = _pcts(one)
    stages["fault: publish -> alert event"] = _pcts(al_summary)
    stages["fault: publish -> work order event"] = _pcts(wo_summary)
    return {
        "database": database,
        "msgs_per_s": round(stored / elapsed, 1),
        "p50_ms": lat["p50_ms"],
        "p95_ms": lat["p95_ms"],
        "p99_ms": lat["p99_ms"],
        "lost": max(0, published - stored),
        "processes": {
            name: {"cpu_pct": v["cpu_pct"], "rss_mb": v["rss_mb"],
                   "cpu_us_per_msg": round(v["cpu_s"] * 1e6 / max(1, stored), 1)}
            for name, v in processes.items()
        },
        "work_order": _pcts(wo_summary),
        "alert": _pcts(al_summary),
        "stages": stages,
        "load_average": list(os.getloadavg()),
        "published": published,
        "stored": stored,
        "readings": sum(r["readings"] for r in reports),
        "positions": sum(r["positions"] for r in reports),
        "offered_per_s": round(published / max(1e-9, t_pub), 1),
        "elapsed_s": round(elapsed, 2),
        "faults": len(fault_sent),
        "work_orders": orders,
        "store_latency": lat,
        "worst_seconds": worst_seconds(lat["p99_ms_per_second"]),
        "work_order_latency_ms": sorted(round(v, 1) for v in wo.values()),
        "processes_detail": processes,
        "publish_per_second": sum_per_second(reports),
        "args": vars(args),
        "started_stack": started,
        "reference": REFERENCE,
    }


def _pcts(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: summary[k] for k in ("count", "p50_ms", "p95_ms", "p99_ms") if k in summary}


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    lat = result["store_latency"]
    fig, (ax1, ax2, ax3, ax4) = plt.subplots(1, 4, figsize=(20, 4))
    ax1.plot(result["publish_per_second"], label="published")
    ax1.plot(lat["per_second"], label="stored")
    ax1.set_xlabel("second of the run")
    ax1.set_ylabel("messages per second")
    ax1.legend()
    ax1.set_title(f"{result['msgs_per_s']:,.0f} msgs/s sustained, lost {result['lost']}")
    ax2.hist(lat["sample_ms"], bins=60)
    ax2.set_xlabel("MQTT publish -> stored (ms)")
    ax2.set_title(f"p50 {result['p50_ms']} / p95 {result['p95_ms']} / p99 {result['p99_ms']} ms")
    plot_tail(ax3, lat["p99_ms_per_second"])
    names = list(result["processes"])
    ax4.bar(names, [result["processes"][n]["cpu_pct"] for n in names])
    ax4.set_ylabel("CPU % (100 = one core)")
    ax4.tick_params(axis="x", rotation=30)
    ax4.set_title("CPU per process")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fieldflow bench e2e", description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=60, help="seconds of publishing")
    p.add_argument("--devices", type=int, default=1000, help="devices (one asset each)")
    p.add_argument("--phones", type=int, default=200, help="engineers' phones")
    p.add_argument("--rate", type=float, default=1500, help="offered readings/s in total")
    p.add_argument("--phone-interval", type=float, default=1.0, help="s between a phone's fixes")
    p.add_argument("--faults", type=int, default=30, help="devices that send a fault burst")
    p.add_argument("--workers", type=int, help="stream workers of the stack it starts"
                   " (default: the setting, 1)")
    p.add_argument("--profile", metavar="DIR", help="py-spy the bridge, workers and API into"
                   " DIR/NAME.txt (collapsed stacks) and print their heaviest frames")
    load_args(p, drain_timeout_s=60)
    args = p.parse_args(argv)

    r = run(args)
    wo = r["work_order"]
    print_table(
        f"{args.devices} devices + {args.phones} phones, MQTT -> {r['database']},"
        f" {args.duration:g} s",
        [
            ("published (PUBACKed)", f"{r['published']:,}"),
            ("stored (distinct)", f"{r['stored']:,}"),
            ("lost", f"{r['lost']:,}"),
            ("offered msgs/s", f"{r['offered_per_s']:,.0f}"),
            ("sustained msgs/s", f"{r['msgs_per_s']:,.0f}"),
            (
                "publish -> stored p50/p95/p99 ms",
                f"{r['p50_ms']:,.0f} / {r['p95_ms']:,.0f} / {r['p99_ms']:,.0f}",
            ),
            (
                f"publish -> work order ({wo['count']}/{r['faults']})",
                f"{wo['p50_ms']:,.0f} / {wo['p95_ms']:,.0f} / {wo['p99_ms']:,.0f}",
            ),
        ],
    )
    print_breakdown(r, per="msg")
    print(tail_line(r["worst_seconds"]), flush=True)
    if args.profile:
        for f in sorted(Path(args.profile).glob("*.txt")):
            print_table(
                f"{f.stem} profile (py-spy, {f})",
                [(fr[:90], f"{i:.1f}", f"{s:.1f}") for fr, i, s in profile_summary(f, 15)],
                header=("frame", "incl %", "self %"),
            )
    print(f"  reference: {REFERENCE}")
    headline = {k: r[k] for k in ("database", "msgs_per_s", "offered_per_s", "p50_ms",
                                  "p95_ms", "p99_ms", "lost", "work_order", "alert", "stages",
                                  "processes", "load_average", "worst_seconds")}
    headline["args"] = {k: v for k, v in vars(args).items() if k not in ("json", "out_dir")}
    for path in write_outputs(
        "e2e", r, headline, json_path=args.json, out_dir=args.out_dir, plot=plot
    ):
        print(f"  wrote {path}")
    verdict = "no loss" if r["lost"] == 0 else f"LOST {r['lost']}"
    cpu = sum(v["cpu_pct"] for v in r["processes"].values())
    print(
        f"e2e ({r['database']}): {r['msgs_per_s']:,.0f} msgs/s sustained,"
        f" p50 {r['p50_ms']:.0f} ms p95 "
        f"{r['p95_ms']:.0f} ms p99 {r['p99_ms']:.0f} ms, work order p99 {wo['p99_ms']:.0f} ms,"
        f" {verdict}, {cpu:.0f}% CPU in all" + ("" if not math.isnan(r["p99_ms"]) else " (no data)")
    )
    return 0 if r["lost"] == 0 else 1
