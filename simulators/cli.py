"""``fieldflow simulate``: run a scenario (or load mode) against the platform.

Starts the embedded stack with ``fieldflow up --detach`` when none runs in
``FIELDFLOW_HOME`` and stops what it started. Durations are simulated seconds (load
mode: wall seconds).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tqdm import tqdm

from simulators.clock import save_clock, start_after
from simulators.etaeval import BASELINE_SPEED_MPS
from simulators.load import run_load
from simulators.plots import write_plots
from simulators.report import format_table
from simulators.runner import Endpoints, Runner
from simulators.scenario import ScenarioOptions, build_scenario

log = logging.getLogger("fieldflow.simulators")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fieldflow simulate", description=__doc__)
    p.add_argument("--duration", type=float, default=3600, help="simulated seconds")
    p.add_argument("--speed", type=float, default=30, help="simulated seconds per second")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--engineers", type=int, default=6)
    p.add_argument("--sites", type=int, default=8)
    p.add_argument("--devices", type=int, default=None, help="default 1.5 per site")
    p.add_argument("--fault-rate", type=float, default=1.0, help="faults per device-hour")
    p.add_argument("--reading-interval", type=float, default=10.0, help="seconds per reading")
    p.add_argument("--service-scale", type=float, default=1.0, help="x service minutes")
    p.add_argument("--city-radius", type=float, default=2500.0, help="metres")
    p.add_argument("--cmapss-devices", type=int, default=0,
                   help="extra turbofans replaying C-MAPSS units (for the fault model)")
    p.add_argument("--owntracks-share", type=float, default=0.0,
                   help="share of phones speaking OwnTracks (needs the bridge's mapping)")
    p.add_argument("--drain-max", type=float, default=None,
                   help="simulated seconds to wait for open orders after the run")
    p.add_argument("--api-url", default=None,
                   help="talk to this API instead of the one `fieldflow status` names")
    p.add_argument("--report", type=Path, default=None, help="write the JSON report here")
    p.add_argument("--json", type=Path, default=None,
                   help="write the ETA table (horizons, ours, baselines) here")
    p.add_argument("--eta-baseline-speed", type=float, default=BASELINE_SPEED_MPS,
                   help="m/s of the great-circle ETA baseline")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--load", action="store_true", help="load mode: readings only")
    p.add_argument("--rate", type=float, default=1.0, help="load: readings/s per device")
    p.add_argument("--connections", type=int, default=4, help="load: MQTT connections")
    return p


def fieldflow(*args: str, env: dict[str, str] | None = None, timeout: float = 600
              ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stack.cli", *args], capture_output=True,
                          check=False, text=True, env=env or dict(os.environ), timeout=timeout)


def stack_status(env: dict[str, str] | None = None) -> dict[str, Any]:
    out = fieldflow("status", "--json", env=env).stdout
    try:
        data: dict[str, Any] = json.loads(out)
    except ValueError:
        return {"running": False}
    return data


def ensure_stack(extra_env: dict[str, str]) -> tuple[dict[str, Any], bool]:
    """(status, started_by_us). Starts ``fieldflow up --detach`` when nothing runs."""
    st = stack_status()
    if st.get("running"):
        return st, False
    print("No FieldFlow stack running here: starting one (fieldflow up --detach) ...",
          flush=True)
    up = fieldflow("up", "--detach", env={**os.environ, **extra_env})
    if up.returncode != 0:
        fieldflow("down")  # stop whatever the failed start left running
        raise SystemExit(f"fieldflow up failed:\n{up.stdout}\n{up.stderr}")
    return stack_status(), True


def options_from(args: argparse.Namespace) -> ScenarioOptions:
    return ScenarioOptions(
        engineers=args.engineers, sites=args.sites,
        devices=args.devices or max(1, round(args.sites * 1.5)),
        reading_interval_s=args.reading_interval, fault_rate=args.fault_rate,
        speed=args.speed, duration_s=args.duration, seed=args.seed,
        city_radius_m=args.city_radius, service_scale=args.service_scale,
        owntracks_share=args.owntracks_share, cmapss_devices=args.cmapss_devices,
        prefix=f"sim{args.seed}")


def home_of(st: dict[str, Any]) -> Path:
    return Path(st.get("home") or ".fieldflow")


def eta_headline(report: dict[str, Any]) -> dict[str, Any]:
    """What ``--json`` writes: the ETA table and the run it came from."""
    run = report["run"]
    return {"eta": report["eta"], "run": {k: run[k] for k in (
        "seed", "speed", "duration_s", "simulated_s", "engineers", "sites", "devices")}}


def run_scenario(args: argparse.Namespace, st: dict[str, Any], opts: ScenarioOptions
                 ) -> dict[str, Any]:
    sc = build_scenario(opts, start_after(home_of(st)))
    runner = Runner(sc, Endpoints(st["api_url"], st.get("mqtt_fleet_url") or st["mqtt_url"],
                                  st["admin_token"]),
                    baseline_speed_mps=args.eta_baseline_speed)
    try:
        runner.setup()
        bar = None if args.no_progress else tqdm(total=round(opts.duration_s), unit="sim s",
                                                 disable=None, mininterval=1.0,
                                                 desc="simulating", dynamic_ncols=True)

        def progress(r: Runner) -> None:
            if bar is not None:
                done = min(round(opts.duration_s), round(r.clock.elapsed_s()))
                bar.update(done - bar.n)
                bar.set_postfix(phase=r.phase, faults=len(r.truth.faults),
                                open=r.open_orders(), msgs=f"{r.msgs_per_s:.0f}/s")

        runner.run(progress=progress, drain_max_s=args.drain_max)
        if bar is not None:
            bar.close()
        time.sleep(2.0)  # let the last events land before reading the platform's figures
        report = runner.collect()
    finally:
        runner.close()
        save_clock(home_of(st), runner.clock.now_ms())
    print(format_table(report))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=2, default=str))
        base = args.report.with_suffix("")
        plots = write_plots(report, runner.truth, sc, base)
        print(f"report: {args.report}; plots: {', '.join(str(p) for p in plots)}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(eta_headline(report), indent=2) + "\n")
        print(f"ETA table: {args.json}")
    if report["run"]["missing_endpoints"]:
        print("missing API endpoints: " + ", ".join(report["run"]["missing_endpoints"]))
    return report


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # `fieldflow simulate -- --duration ...`
        argv = argv[1:]
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    opts = None if args.load else options_from(args)
    extra: dict[str, str] = {}
    if opts is not None and opts.owntracks_share > 0:
        sc = build_scenario(opts, int(time.time() * 1000))
        extra["FIELDFLOW_OWNTRACKS_DEVICES"] = json.dumps(
            {f"{e.id}/phone": e.id for e in sc.engineers if e.owntracks})
    st, started = ensure_stack(extra)
    if args.api_url:
        st = {**st, "api_url": args.api_url}
    try:
        if opts is None:
            devices = args.devices or 1000
            with tqdm(total=None, unit="msg", desc="publishing", disable=args.no_progress) as b:
                res = run_load(st.get("mqtt_fleet_url") or st["mqtt_url"], devices=devices,
                               rate=args.rate, duration_s=args.duration,
                               connections=args.connections,
                               seed=args.seed, progress=b.update)
            print(f"load: {res.sent} readings from {devices} devices in {res.seconds:.1f}s = "
                  f"{res.achieved_per_s:,.0f} msgs/s (asked {res.target_per_s:,.0f}/s; "
                  f"{res.in_flight_at_end} unacked at the end)")
            if args.report:
                args.report.write_text(json.dumps({
                    "sent": res.sent, "seconds": res.seconds, "target_per_s": res.target_per_s,
                    "achieved_per_s": res.achieved_per_s}, indent=2))
        else:
            run_scenario(args, st, opts)
    finally:
        if started:
            print("stopping the stack this run started (fieldflow down) ...", flush=True)
            fieldflow("down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
