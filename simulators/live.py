"""``python -m simulators.live``: the demo's city, started by ``fieldflow up --simulate``.

Told where the platform is by the supervisor's command line (``--api-url``,
``--mqtt-url``, ``--home``; the admin token is read from ``HOME/admin_token``; the
simulator is a client process and does not import ``stack``), seeds the city,
writes ``$FIELDFLOW_HOME/run/simulator.ready`` and runs at a pleasant pace (10x) until
SIGTERM, printing a one-line live status every few seconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import httpx

from simulators.clock import save_clock, start_after
from simulators.runner import Endpoints, Runner
from simulators.scenario import ScenarioOptions, build_scenario

log = logging.getLogger("fieldflow.simulators.live")
STATUS_EVERY_S = 5.0
# 10x until the simulated day is an hour ahead of the wall clock, then real time: the
# platform refuses event times more than a day ahead, and a demo may run for days.
LIVE = ScenarioOptions(engineers=8, sites=12, devices=18, fault_rate=0.3, speed=10.0,
                       max_lead_s=3600.0, duration_s=30 * 86_400.0, seed=2026, prefix="demo")


def endpoints(args: argparse.Namespace) -> Endpoints:
    """The platform's URLs and admin token (passed by the supervisor, else from the home)."""
    path = args.home / "admin_token"
    token = os.environ.get("FIELDFLOW_ADMIN_TOKEN", "").strip()
    if not token and path.exists():
        token = path.read_text().strip()
    if not token:
        raise SystemExit(f"simulators.live: no admin token in {path}")
    # With MQTT authentication the supervisor passes the fleet login in the environment
    # (not on the command line, which every local user can read).
    mqtt_url = os.environ.get("FIELDFLOW_MQTT_FLEET_URL", "").strip() or args.mqtt_url
    return Endpoints(args.api_url, mqtt_url, token)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m simulators.live")
    p.add_argument("--api-url", required=True)
    p.add_argument("--mqtt-url", required=True)
    p.add_argument("--home", type=Path, required=True, help="the platform's FIELDFLOW_HOME")
    return p.parse_args(argv)


def status_line(r: Runner) -> str:
    t = time.strftime("%H:%M:%S", time.gmtime(r.clock.now_ms() / 1000))
    speed = 1 if r.clock.capped else r.sc.options.speed
    return (f"[sim {t}Z x{speed:g}] {r.msgs_per_s:,.0f} msgs/s | "
            f"open orders {_open(r)} | closed {len(r.closed)} | "
            f"faults {len(r.truth.faults)} | check-ins {len(r.truth.arrivals)}")


def _open(r: Runner) -> int:
    """The platform's count of open orders (every order, not only this city's)."""
    try:
        platform = r.api.count_open()
    except httpx.HTTPError:
        platform = None
    return platform if platform is not None else r.open_orders()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()

    def on_signal(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    ep = endpoints(args)
    runner = Runner(build_scenario(LIVE, start_after(args.home.resolve())), ep)
    try:
        seeded = runner.setup()
        for note in seeded.notes:
            print(f"simulator: {note}", flush=True)
        ready = args.home.resolve() / "run" / "simulator.ready"
        ready.parent.mkdir(parents=True, exist_ok=True)
        ready.write_text(str(os.getpid()))
        print(f"simulator: live city with {len(runner.phones)} engineers and "
              f"{len(runner.devices)} devices at {LIVE.speed:g}x", flush=True)
        last = 0.0

        def progress(r: Runner) -> None:
            nonlocal last
            if time.monotonic() - last >= STATUS_EVERY_S:
                last = time.monotonic()
                print(status_line(r), flush=True)

        runner.run(stop=stop, progress=progress)
    finally:
        save_clock(args.home.resolve(), runner.clock.now_ms())
        runner.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
