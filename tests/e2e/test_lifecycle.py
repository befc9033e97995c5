"""`fieldflow up` in the foreground: Ctrl-C (SIGINT) stops everything it started."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import psutil
import pytest

from tests.e2e.conftest import REPO, stack_env, stack_home, wait_until

pytestmark = pytest.mark.e2e


def test_foreground_up_then_ctrl_c_leaves_no_process() -> None:
    tmp_path = stack_home()
    env = stack_env(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "stack.cli", "up"], env=env, cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    state_file = tmp_path / "state.json"

    def all_running() -> dict | None:
        if not state_file.exists():
            return None
        state = json.loads(state_file.read_text())
        services = state.get("services", {})
        ok = "api" in services and all(s["state"] in ("running", "done")  # done: one-shot
                                       for s in services.values())
        return state if ok else None

    try:
        state = wait_until(all_running, timeout_s=180, interval=0.5)
        pids = [s["pid"] for s in state["services"].values() if s["pid"]]
        assert {"postgres", "kafka", "mqtt", "bridge", "worker-1", "api"} <= set(state["services"])
        assert len(pids) >= 6
    finally:  # whatever failed above, Ctrl-C it: a failing test must not leave a stack
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=90)
    assert proc.returncode == 0, out
    assert "FieldFlow is up." in out and "all services stopped" in out
    time.sleep(0.5)
    alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
    assert alive == [], f"left behind: {alive}"
