"""The stack a benchmark measures: :func:`embedded_stack` uses the one running in
``FIELDFLOW_HOME``, or starts one with ``fieldflow up --detach`` and stops it afterwards
(only what this process started); its MQTT address and service pids."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
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
