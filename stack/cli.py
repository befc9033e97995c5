"""The ``fieldflow`` command (DESIGN.md §8)."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from typing import Any

from stack import timescale
from stack.logs import setup_logging
from stack.secrets import redact
from stack.settings import Settings, get_settings
from stack.supervisor import Supervisor, pid_alive, read_state, state_path, workers_status

log = logging.getLogger("fieldflow")


def _running_supervisor(settings: Settings) -> int | None:
    state = read_state(settings)
    pid = state.get("supervisor_pid") if state else None
    return pid if isinstance(pid, int) and pid_alive(pid) else None


def _print_ready(sup: Supervisor) -> None:
    s = sup.settings
    print(
        f"\nFieldFlow is up.\n"
        f"  dashboard  {s.api_url}/\n"
        f"  API docs   {s.api_url}/docs\n"
        f"  MQTT       {s.resolved_mqtt_url}\n"
        f"  Kafka      {s.resolved_kafka_bootstrap}\n"
        f"  PostgreSQL {redact(s.resolved_database_url)}\n"
        f"  admin token and passwords: fieldflow status --json (or {s.home_dir}/admin_token,"
        f" postgres_password, mqtt/credentials.json)\n"
        f"  logs       {s.log_dir}/\n"
        f"Press Ctrl-C to stop everything.\n",
        flush=True,
    )


def cmd_up(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.simulate:
        settings.simulate = True
    if args.workers:
        settings.workers = args.workers
    pid = _running_supervisor(settings)
    if pid:
        print(
            f"fieldflow is already running (supervisor pid {pid}, home {settings.home_dir}); "
            "use `fieldflow status` or `fieldflow down`.",
            file=sys.stderr,
        )
        return 1
    settings.home_dir.mkdir(parents=True, exist_ok=True)
    if args.detach:
        return _up_detached(settings, args)
    sup = Supervisor(settings)
    return sup.run(on_ready=_print_ready)


def _up_detached(settings: Settings, args: argparse.Namespace) -> int:
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    state_path(settings).unlink(missing_ok=True)
    argv = [sys.executable, "-m", "stack.cli", "up"] + (["--simulate"] if args.simulate else [])
    argv += ["--workers", str(settings.workers)]
    env = {**os.environ, "FIELDFLOW_HOME": str(settings.home_dir)}
    with (settings.log_dir / "supervisor.log").open("ab") as out:
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + settings.start_timeout_s * 4
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (
                (settings.log_dir / "supervisor.log").read_text(errors="replace").splitlines()[-10:]
            )
            print("fieldflow up failed:\n  " + "\n  ".join(tail), file=sys.stderr)
            return 1
        state = read_state(settings)
        if (
            state
            and state.get("services", {}).get("api", {}).get("state") == "running"
            and (
                not args.simulate
                or state["services"].get("simulator", {}).get("state") == "running"
            )
        ):
            print(
                f"FieldFlow is up (supervisor pid {proc.pid}); dashboard {state['api_url']}/ ; "
                f"logs in {settings.log_dir}/"
            )
            return 0
        time.sleep(0.3)
    print(
        "fieldflow up --detach: timed out waiting for the services; see "
        f"{settings.log_dir}/supervisor.log",
        file=sys.stderr,
    )
    return 1


def cmd_down(_args: argparse.Namespace) -> int:
    settings = get_settings()
    state = read_state(settings)
    if not state:
        print("fieldflow is not running (no state file).")
        return 0
    pid = state.get("supervisor_pid")
    if isinstance(pid, int) and pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    # Whatever the supervisor could not stop (it was killed, say), stop here.
    for name, svc in (read_state(settings) or state).get("services", {}).items():
        child = svc.get("pid")
        if isinstance(child, int) and not svc.get("external") and pid_alive(child):
            log.warning("stopping leftover %s (pid %d)", name, child)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child, signal.SIGKILL)
    print("fieldflow stopped.")
    return 0


def status(settings: Settings) -> dict[str, Any]:
    state = read_state(settings) or {}
    sup_pid = state.get("supervisor_pid")
    running = isinstance(sup_pid, int) and pid_alive(sup_pid)
    services = {}
    for name, svc in state.get("services", {}).items():
        recorded = str(svc.get("state"))
        finished = recorded in ("done", "failed") or recorded.startswith("exited")
        alive = svc.get("external") or pid_alive(svc.get("pid")) or finished
        services[name] = {**svc, "state": recorded if (alive and running) else "stopped"}
    return {
        "running": running,
        "supervisor_pid": sup_pid if running else None,
        "home": str(settings.home_dir),
        "mqtt_url": state.get("mqtt_url", settings.resolved_mqtt_url),
        "kafka_bootstrap": state.get("kafka_bootstrap", settings.resolved_kafka_bootstrap),
        "database_url": state.get("database_url", settings.resolved_database_url),
        "api_url": state.get("api_url", settings.api_url),
        "metrics_url": state.get(
            "metrics_url",
            f"http://{settings.backend_host}:{settings.bridge_metrics_port}/metrics",
        ),
        "admin_token": state.get("admin_token"),
        "mqtt_fleet_url": state.get("mqtt_fleet_url"),
        "timescaledb": timescale.database_version(state.get("database_url", "")) if running
        else None,
        "services": services,
        "workers": workers_status(settings) if running else [],
    }


def cmd_status(args: argparse.Namespace) -> int:
    st = status(get_settings())
    if args.json:
        print(json.dumps(st, indent=2))
    else:
        print(f"FieldFlow {'running' if st['running'] else 'not running'} (home {st['home']})")
        for name, svc in st["services"].items():
            where = redact(svc.get("url") or "")  # secrets only in --json
            print(f"  {name:10} {svc['state']:10} pid {svc.get('pid') or '-':>7}  {where}")
        for w in st["workers"]:
            parts = "  ".join(f"{t} {v}" for t, v in w["partitions"].items())
            print(f"  {w['name']:10} pid {w['pid']:>7}  {parts}")
    return 0 if st["running"] else 3


def cmd_migrate(_args: argparse.Namespace) -> int:
    from stack.bootstrap import migrate_and_seed

    migrate_and_seed(get_settings())
    return 0


def cmd_create_topics(_args: argparse.Namespace) -> int:
    from stack.bootstrap import create_topics

    create_topics(get_settings())
    return 0


def _ids(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def cmd_mqtt_credentials(args: argparse.Namespace) -> int:
    """Write mosquitto ``passwd``/``acl`` and ``credentials.json``; print new passwords once."""
    from pathlib import Path

    from stack.bootstrap import write_mqtt_credentials

    settings = get_settings()
    out = Path(args.out).resolve()
    try:
        generated = write_mqtt_credentials(
            settings, out, devices=_ids(args.devices), engineers=_ids(args.engineers)
        )
    except ValueError as exc:
        print(f"fieldflow mqtt-credentials: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out / 'passwd'}, {out / 'acl'} and {out / 'credentials.json'} (0600)")
    print("passwords (shown once; also in credentials.json):")
    for user, password in generated.items():
        print(f"  {user:32} {password}")
    _reload_mosquitto(settings, out)
    return 0


def _reload_mosquitto(settings: Settings, out: Any) -> None:
    """A running embedded mosquitto re-reads its password and ACL files on SIGHUP."""
    state = read_state(settings) or {}
    mqtt = state.get("services", {}).get("mqtt", {})
    pid = mqtt.get("pid")
    if (
        settings.mqtt_auth
        and out == (settings.home_dir / "mqtt").resolve()
        and isinstance(pid, int)
        and not mqtt.get("external")
        and pid_alive(pid)
    ):
        os.kill(pid, signal.SIGHUP)
        print(f"mosquitto (pid {pid}) reloaded the new users")


def _delegate(module: str, func: str = "main") -> Any:
    def run(args: argparse.Namespace) -> int:
        import importlib

        mod = importlib.import_module(module)
        result: int = getattr(mod, func)(args.rest)
        return result

    return run


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fieldflow", description="FieldFlow field-service platform")
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="start the whole stack (foreground; Ctrl-C stops all)")
    up.add_argument("--detach", action="store_true", help="return once every service is ready")
    up.add_argument("--simulate", action="store_true", help="also run the live city simulator")
    up.add_argument("--workers", type=int, metavar="N",
                    help="stream workers in one group (default: setting workers, 1)")
    up.set_defaults(func=cmd_up)
    sub.add_parser("down", help="stop everything started by `up`").set_defaults(func=cmd_down)
    st = sub.add_parser("status", help="show services, URLs and the admin token")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser(
        "create-topics", help="create the Kafka topics (partitions from settings)"
    ).set_defaults(func=cmd_create_topics)
    mc = sub.add_parser(
        "mqtt-credentials",
        help="generate mosquitto passwd + acl for devices, phones and the bridge",
        description="Adds users to DIR/passwd (existing ones are kept), writes DIR/acl for all "
        "of them and DIR/credentials.json (0600) with the new passwords. Devices log in as "
        "dev-<id>, phones as eng-<id>.",
    )
    mc.add_argument("--out", required=True, metavar="DIR", help="e.g. $FIELDFLOW_HOME/mqtt")
    mc.add_argument("--devices", metavar="d1,d2", help="device ids (comma-separated)")
    mc.add_argument("--engineers", metavar="e1,e2", help="engineer ids (comma-separated)")
    mc.set_defaults(func=cmd_mqtt_credentials)
    for name, module, helptext in DELEGATES:
        d = sub.add_parser(name, help=helptext, add_help=False)
        d.add_argument("rest", nargs=argparse.REMAINDER)
        d.set_defaults(func=_delegate(module))
    return p


# Subcommands whose options live with their code (`fieldflow NAME --help` shows them).
DELEGATES: list[tuple[str, str, str]] = [
    ("bench", "bench.cli", "run a benchmark: ingest | streams | dispatch | e2e | outbox"),
    ("timescale", "stack.timescale", "install TimescaleDB into the embedded PostgreSQL"),
    ("simulate", "simulators.cli", "run the city simulation (or --load) and print its report"),
    ("train-fault-model", "stack.faultmodel", "train the C-MAPSS fault model and write its report"),
]


def main(argv: list[str] | None = None) -> int:
    settings = get_settings()
    setup_logging(settings.log_level)
    argv = sys.argv[1:] if argv is None else list(argv)
    # Delegated commands parse their own options (argparse's REMAINDER would reject
    # a first argument that starts with "--", e.g. `fieldflow simulate --duration 60`).
    for name, module, _help in DELEGATES:
        if argv[:1] == [name]:
            delegated: int = _delegate(module)(argparse.Namespace(rest=argv[1:]))
            return delegated
    args = build_parser().parse_args(argv)
    try:
        result: int = args.func(args)
    except KeyboardInterrupt:
        return 130
    return result


if __name__ == "__main__":
    sys.exit(main())
