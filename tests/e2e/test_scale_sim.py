"""Three stream workers through a seeded simulated day while one joins late and one is
SIGKILLed mid-stream (and restarted by the supervisor): the truth-scored report is exact.

A stack of its own, started with two workers (``FIELDFLOW_WORKERS=2``); the third is
started by the test a few seconds into the run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, Stack, run_stack, wait_until
from tests.e2e.seed import query
from tests.e2e.test_scale import _start_worker, _workers

pytestmark = pytest.mark.e2e

ARGS = {"duration": 600, "speed": 20, "seed": 11, "engineers": 5, "sites": 6, "devices": 9,
        "fault-rate": 2.0, "city-radius": 1500, "service-scale": 0.3, "drain-max": 5400}


@pytest.fixture(scope="module")
def three_stack() -> Iterator[Stack]:
    yield from run_stack(FIELDFLOW_WORKERS="2", FIELDFLOW_PARTITIONS="8")


class OfflineWatch(threading.Thread):
    """Every second: when each engineer that was online was first seen offline again (the
    simulator logs its engineers off through the API when it stops)."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.online_seen: set[str] = set()
        self.offline_at: dict[str, float] = {}
        self.stop = threading.Event()

    def poll(self) -> None:
        for eid, status in query(self.stack.database_url, "SELECT id, status FROM engineers"):
            if status == "online":
                self.online_seen.add(eid)
            elif eid in self.online_seen:
                self.offline_at.setdefault(eid, time.time())

    def run(self) -> None:
        while not self.stop.is_set():
            self.poll()
            time.sleep(1.0)


def marked_offline(logs: Path) -> list[tuple[str, float]]:
    """(engineer, wall time) of every offline decision of the stream workers (presence)."""
    out = []
    for f in logs.glob("worker-*.log"):
        for line in f.read_text(errors="replace").splitlines():
            m = re.match(r"\[(\S+ \S+)\] .* engineer (\S+) is offline", line)
            if m:
                when = datetime.strptime(m[1], "%Y-%m-%d %H:%M:%S,%f").astimezone()
                out.append((m[2], when.timestamp()))
    return out


def _pid(stack: Stack, name: str) -> int:
    return int(json.loads(stack.cli("status", "--json").stdout)["services"][name]["pid"])


def test_three_workers_one_late_one_killed_simulated_day_is_exact(
        three_stack: Stack, tmp_path: Path) -> None:
    stack = three_stack
    wait_until(lambda: len(_workers(stack)) == 2, timeout_s=60)
    report_path = tmp_path / "report.json"
    argv = [sys.executable, "-m", "stack.cli", "simulate",
            *[f"--{k}={v}" for k, v in ARGS.items()], "--no-progress", f"--report={report_path}"]
    watch = OfflineWatch(stack)
    watch.start()
    late = None
    sim = subprocess.Popen(argv, env=stack.env, cwd=REPO, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(5)
        late = _start_worker(stack, "worker-late")  # joins late: a rebalance mid-stream
        wait_until(lambda: "worker-late" in _workers(stack), timeout_s=60)
        time.sleep(5)
        victim = _pid(stack, "worker-2")
        os.killpg(victim, signal.SIGKILL)  # mid-stream; the supervisor restarts it
        wait_until(lambda: _pid(stack, "worker-2") != victim, timeout_s=60)
        out, _ = sim.communicate(timeout=600)
    finally:
        watch.stop.set()
        watch.join(10)
        watch.poll()  # the simulator logged its engineers off as it stopped
        if sim.poll() is None:
            sim.kill()
        if late is not None and late.poll() is None:
            os.killpg(late.pid, signal.SIGKILL)
    assert sim.returncode == 0, out
    shutil.copytree(stack.home / "logs", tmp_path / "logs")  # kept by pytest for a look
    report = json.loads(report_path.read_text())
    detail = report["detail"]
    rows = {"orders": query(stack.database_url, "SELECT id, asset_id, fault_type, created_at,"
                            " status FROM work_orders ORDER BY created_at"),
            "alerts": query(stack.database_url, "SELECT dedup_key, kind, fault_type, state,"
                            " opened_at, work_order_id FROM alerts ORDER BY opened_at"),
            "faults": report["truth"]["faults"]}
    context = json.dumps({k: v for k, v in report.items() if k != "truth"}, indent=1,
                         default=str)[:3000] + json.dumps(rows, default=str)[:6000]
    assert report["faults_injected"] >= 2, context
    # one work order per injected fault, none twice, none from nowhere, all closed
    assert detail["faults_without_order"] == [], context
    assert report["duplicate_orders"] == 0, context
    assert report["orders_created"] == report["faults_injected"], context
    assert detail["orders_not_closed"] == {}, context
    # one alert per injected fault (rule or prediction), none twice
    alerts = query(stack.database_url, "SELECT device_id, fault_type, count(*) FROM alerts"
                   " WHERE kind IN ('rule', 'prediction') GROUP BY 1, 2")
    assert sum(n for *_, n in alerts) == report["faults_injected"], alerts
    # every true arrival checked in once and out once; no duplicate check-in
    assert report["arrivals_true"] >= 1, context
    assert report["checkins_detected"] == report["arrivals_true"], context
    visits = query(stack.database_url, "SELECT work_order_id, kind, count(*) FROM geofence_events"
                   " WHERE work_order_id IS NOT NULL GROUP BY 1, 2")
    enters = {o: n for o, k, n in visits if k == "enter"}
    exits = {o: n for o, k, n in visits if k == "exit"}
    assert set(enters.values()) == {1}, visits
    assert set(exits.values()) <= {1}, visits
    # ... and out once: every engineer who finished with time left to drive off (exit
    # dwell 60 s + lateness 90 s; the run stops once the last order is closed, so the
    # last engineer may still be on site)
    ended = report["truth"]["ended_ms"] / 1000
    left = [o for (o,) in query(stack.database_url, "SELECT id FROM work_orders WHERE"
                                " completed_at < to_timestamp(%s)", (ended - 300,))]
    assert left, "no engineer finished early enough to show a check-out"
    assert {o: exits.get(o, 0) for o in left} == dict.fromkeys(left, 1), visits
    # nobody marked offline by the platform while reporting: every offline decision of
    # the workers came after the simulator had logged that engineer off (its end)
    assert watch.online_seen, "no engineer was ever online"
    early = [(e, t) for e, t in marked_offline(stack.home / "logs")
             if t < watch.offline_at.get(e, float("inf")) - 1.0]
    assert early == [], (early, watch.offline_at)
    # rows stored = valid messages published
    stored = query(stack.database_url, "SELECT (SELECT count(*) FROM positions)"
                   " + (SELECT count(*) FROM readings)")[0][0]
    dead = query(stack.database_url, "SELECT count(*) FROM clock_skew_events")[0][0]
    assert dead == 0
    assert stored == report["truth"]["messages"]["published"], context
