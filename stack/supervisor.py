"""The embedded-stack supervisor behind ``fieldflow up``.

Starts, in order and each only once ready: PostgreSQL, the tansu Kafka broker, the
MQTT broker, migrations, topics, the bridge, the faust worker and the API (and, with
``simulate``, the live simulator). Services given by URL are checked, not started.
State (pids, URLs, the admin token) is written to ``$FIELDFLOW_HOME/state.json``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlparse

from stack import bootstrap, timescale
from stack.faultmodel import trainer_argv
from stack.pgauth import secure_postgres
from stack.procs import (
    MissingDependency,
    Service,
    find_mosquitto,
    init_postgres,
    port_open,
    postgres_bin_dir,
    python_module,
    tansu_binary,
    wait_for,
)
from stack.secrets import write_private
from stack.settings import Settings

log = logging.getLogger("fieldflow.up")


class AlreadyRunning(RuntimeError):
    pass


def state_path(settings: Settings) -> Path:
    return settings.home_dir / "state.json"


def read_state(settings: Settings) -> dict[str, Any] | None:
    path = state_path(settings)
    if not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive.
    try:
        with Path(f"/proc/{pid}/stat").open() as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def worker_names(settings: Settings) -> list[str]:
    """The stream workers `fieldflow up` runs (``settings.workers`` of them)."""
    return [f"worker-{i}" for i in range(1, settings.workers + 1)]


def workers_status(settings: Settings) -> list[dict[str, Any]]:
    """Every live stream worker with its pid and partitions, as it last reported them
    (``$FIELDFLOW_HOME/run/workers/<name>.json``, rewritten on each assignment)."""
    out = []
    for f in sorted((settings.run_dir / "workers").glob("*.json")):
        try:
            info = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if pid_alive(info.get("pid")):
            out.append(info)
    return out


def child_env(settings: Settings) -> dict[str, str]:
    """Resolved URLs passed to every child, so all of them talk to the same services."""
    env = {
        "FIELDFLOW_HOME": str(settings.home_dir),
        "FIELDFLOW_DATABASE_URL": settings.resolved_database_url,
        "FIELDFLOW_KAFKA_BOOTSTRAP": settings.resolved_kafka_bootstrap,
        "FIELDFLOW_MQTT_URL": settings.resolved_mqtt_url,
        "FIELDFLOW_API_PORT": str(settings.api_port),
        "FIELDFLOW_FAULT_MODEL_PATH": str(settings.resolved_fault_model_path),
        "FIELDFLOW_BRIDGE_METRICS_PORT": str(settings.bridge_metrics_port),
        "FIELDFLOW_HOST": settings.host,
        "FIELDFLOW_BACKEND_HOST": settings.backend_host,
    }
    env["FIELDFLOW_MQTT_AUTH"] = "true" if settings.mqtt_auth else "false"
    if settings.mqtt_auth:  # the bridge and the stream workers log in as the bridge user
        env["FIELDFLOW_MQTT_BRIDGE_USER"] = settings.mqtt_bridge_user
        env["FIELDFLOW_MQTT_BRIDGE_PASSWORD"] = bootstrap.bridge_password(settings)
    return env


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services: list[Service] = []
        self.admin_token = ""
        self._stopping = False

    # -- state ---------------------------------------------------------------
    def write_state(self) -> None:
        s = self.settings
        state = {
            "supervisor_pid": os.getpid(),
            "mqtt_url": s.resolved_mqtt_url,
            "kafka_bootstrap": s.resolved_kafka_bootstrap,
            "database_url": s.resolved_database_url,
            "api_url": s.api_url,
            "metrics_url": f"http://{s.backend_host}:{s.bridge_metrics_port}/metrics",
            "dashboard_url": f"{s.api_url}/",
            "admin_token": self.admin_token,
            "services": {
                svc.name: {
                    "pid": svc.pid,
                    "state": svc.state,
                    "external": svc.external,
                    "url": svc.url,
                    "restarts": svc.restarts,
                }
                for svc in self.services
            },
        }
        if s.mqtt_auth and not s.mqtt_url:
            state["mqtt_fleet_url"] = bootstrap.fleet_mqtt_url(s)
        write_private(state_path(s), json.dumps(state, indent=2))  # born 0600

    # -- services ------------------------------------------------------------
    def _external(self, name: str, url: str, host: str, port: int) -> None:
        svc = Service(
            name=name, argv=[], ready=lambda: port_open(host, port), external=True, url=url
        )
        self.services.append(svc)
        wait_for(svc.ready, self.settings.start_timeout_s, f"external {name} at {url}")
        svc.state = "running"
        log.info("%s: using external %s", name, url)

    def _run(self, svc: Service, timeout_s: float | None = None) -> None:
        self.services.append(svc)
        log.info("%s: starting", svc.name)
        t0 = time.monotonic()
        svc.start(self.settings.log_dir)
        self.write_state()
        try:
            wait_for(svc.ready, timeout_s or self.settings.start_timeout_s, svc.name, svc)
        except (RuntimeError, TimeoutError) as exc:
            logfile = self.settings.log_dir / f"{svc.name}.log"
            tail = (
                logfile.read_text(errors="replace").splitlines()[-15:] if logfile.exists() else []
            )
            raise RuntimeError(f"{exc}; last lines of {logfile}:\n  " + "\n  ".join(tail)) from None
        svc.state = "running"
        log.info("%s: %s in %.1fs (pid %s)", svc.name, "started" if svc.oneshot else "ready",
                 time.monotonic() - t0, svc.pid)
        self.write_state()

    def start_postgres(self) -> None:
        s = self.settings
        if s.database_url:
            u = urlparse(s.database_url)
            self._external("postgres", s.database_url, u.hostname or "localhost", u.port or 5432)
            return
        data_dir, user = init_postgres(s)
        secure_postgres(data_dir, user, bootstrap.postgres_password(s))
        argv = [
            str(postgres_bin_dir() / "postgres"),
            "-D",
            str(data_dir),
            "-h",
            s.backend_host,  # loopback unless exposed on purpose, whatever FIELDFLOW_HOST is
            "-p",
            str(s.postgres_port),
            "-c",
            "unix_socket_directories=",
            "-c",
            "synchronous_commit=off",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=256MB",
            *timescale.postgres_args(s),
        ]
        self._run(
            Service(
                "postgres",
                argv,
                ready=lambda: bootstrap.postgres_ready(s),
                user=user,
                url=s.resolved_database_url,
            )
        )

    def start_kafka(self) -> None:
        s = self.settings
        if s.kafka_bootstrap:
            host, _, port = s.kafka_bootstrap.split(",")[0].rpartition(":")
            self._external("kafka", s.kafka_bootstrap, host, int(port))
            return
        listener = f"tcp://{s.backend_host}:{s.kafka_port}"  # loopback by default
        argv = [
            tansu_binary(),
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            "memory://tansu/",
        ]
        self._run(
            Service(
                "kafka",
                argv,
                ready=lambda: bootstrap.kafka_ready(s),
                env={"RUST_LOG": "warn"},
                url=s.resolved_kafka_bootstrap,
            )
        )

    def start_mqtt(self) -> None:
        s = self.settings
        if s.mqtt_url:
            u = urlparse(s.mqtt_url)
            self._external("mqtt", s.mqtt_url, u.hostname or "localhost", u.port or 1883)
            return
        mosquitto = find_mosquitto() if s.mqtt_broker in ("auto", "mosquitto") else None
        if s.mqtt_broker == "mosquitto" and not mosquitto:
            raise bootstrap.missing("mosquitto", "apt-get install -y mosquitto")
        if s.mqtt_auth and not mosquitto:
            raise MissingDependency(
                "MQTT authentication (FIELDFLOW_MQTT_AUTH, on by default) needs mosquitto; "
                "the amqtt fallback does not support it: apt-get install -y mosquitto "
                "(and leave FIELDFLOW_MQTT_BROKER at auto or mosquitto), or, on a machine "
                "nobody else can reach, FIELDFLOW_MQTT_AUTH=false"
            )
        if s.mqtt_auth:
            bootstrap.ensure_mqtt_auth_files(s)
        conf = bootstrap.write_mqtt_config(s, mosquitto=bool(mosquitto))
        argv = (
            [mosquitto, "-c", str(conf)]
            if mosquitto
            else python_module("amqtt.scripts.broker_script", "-c", str(conf))
        )
        name = "mqtt"
        # Restarted when it dies, like the apps: phones and the bridge reconnect by themselves.
        self._run(
            Service(
                name,
                argv,
                ready=lambda: port_open(s.host, s.mqtt_port),
                url=s.resolved_mqtt_url,
                restart=True,
            )
        )
        if not mosquitto:
            log.warning(
                "mqtt: mosquitto not found, using the slower amqtt broker "
                "(apt-get install -y mosquitto for full speed)"
            )

    def start_trainer(self) -> None:
        """First start: train the missing fault model in the background (the workers wait)."""
        argv = trainer_argv(self.settings)
        if argv is None:
            return
        log.info("fault model: none at %s; training it on data/cmapss FD001 in the background "
                 "(first start only, see %s)", self.settings.resolved_fault_model_path,
                 self.settings.log_dir / "fault-model.log")
        self._run(Service("fault-model", argv, env=child_env(self.settings), oneshot=True,
                          ready=lambda: True))

    def start_apps(self) -> None:
        s = self.settings
        env = child_env(s)
        ready = s.run_dir
        ready.mkdir(parents=True, exist_ok=True)
        for f in ready.glob("*.ready"):
            f.unlink()
        self._run(
            Service(
                "bridge",
                python_module("ingest.bridge"),
                env=env,
                restart=True,
                ready=(ready / "bridge.ready").exists,
            )
        )
        for name in worker_names(s):  # N workers in one group share every topic's partitions
            self._run(
                Service(
                    name,
                    python_module("streams.worker"),
                    env={**env, "FIELDFLOW_WORKER_NAME": name},
                    restart=True,
                    ready=(ready / f"{name}.ready").exists,
                ),
                timeout_s=120,
            )
        self._run(
            Service(
                "api",
                python_module(
                    "uvicorn",
                    "api.app:create_app",
                    "--factory",
                    "--host",
                    s.host,
                    "--port",
                    str(s.api_port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ),
                env=env,
                restart=True,
                url=s.api_url,
                ready=lambda: bootstrap.http_ok(f"{s.api_url}/healthz"),
            )
        )
        if s.simulate:
            self._run(
                Service(
                    "simulator",
                    python_module("simulators.live", "--api-url", s.api_url,
                                  "--mqtt-url", s.resolved_mqtt_url,
                                  "--home", str(s.home_dir)),
                    env={**env, "FIELDFLOW_ADMIN_TOKEN": self.admin_token,
                         **({"FIELDFLOW_MQTT_FLEET_URL": bootstrap.fleet_mqtt_url(s)}
                            if s.mqtt_auth and not s.mqtt_url else {})},
                    ready=(ready / "simulator.ready").exists,
                )
            )

    def start_all(self) -> None:
        self.start_postgres()
        bootstrap.ensure_database(self.settings)
        self.start_kafka()
        self.start_mqtt()
        result = bootstrap.migrate_and_seed(self.settings)
        self.admin_token = result
        bootstrap.create_topics(self.settings)
        self.start_trainer()
        self.start_apps()
        self.write_state()

    # -- lifecycle -----------------------------------------------------------
    def stop_all(self) -> None:
        self._stopping = True
        for svc in reversed(self.services):
            if not svc.external and svc.proc is not None:
                log.info("%s: stopping", svc.name)
                svc.stop()
        self.write_state()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    _sim_offset = 0

    def echo_simulator_status(self) -> None:
        """In the foreground, show the live simulator's one-line status in the terminal."""
        logfile = self.settings.log_dir / "simulator.log"
        if not self.settings.simulate or not logfile.exists():
            return
        with logfile.open("rb") as fh:
            fh.seek(self._sim_offset)
            chunk = fh.read()
        self._sim_offset += len(chunk)
        lines = [ln for ln in chunk.decode(errors="replace").splitlines() if ln.strip()]
        if lines:
            print("\r\x1b[2K" + lines[-1][:160], end="", flush=True)

    def run(self, *, on_ready: Any = None) -> int:
        """Start everything, then watch the children until Ctrl-C or SIGTERM."""
        # Explicit: a process started in the background inherits SIGINT ignored.
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self.start_all()
            if on_ready:
                on_ready(self)
            while True:
                self.watch()
                if on_ready:
                    self.echo_simulator_status()
                time.sleep(0.5)
        except KeyboardInterrupt:
            log.info("stopping FieldFlow ...")
            return 0
        except Exception as exc:
            log.error("%s", exc)
            return 1
        finally:
            self.stop_all()
            log.info("all services stopped")

    def watch(self) -> None:
        for svc in self.services:
            if (svc.external or svc.proc is None or svc.alive() or self._stopping
                    or svc.state in ("done", "failed") or svc.state.startswith("exited")):
                continue
            code = svc.proc.returncode
            if svc.oneshot:
                svc.state = "done" if code == 0 else "failed"
                log.log(logging.INFO if code == 0 else logging.ERROR, "%s: %s (exit code %s)%s",
                        svc.name, svc.state, code,
                        "" if code == 0 else f", see {self.settings.log_dir / (svc.name + '.log')}")
            elif svc.restart:
                svc.restarts += 1
                log.error(
                    "%s exited with code %s; restarting it (restart #%d), see %s",
                    svc.name,
                    code,
                    svc.restarts,
                    self.settings.log_dir / f"{svc.name}.log",
                )
                svc.start(self.settings.log_dir)
                svc.state = "running"
            else:
                svc.state = f"exited ({code})"
                log.error(
                    "%s exited with code %s; not restarted, see %s",
                    svc.name,
                    code,
                    self.settings.log_dir / f"{svc.name}.log",
                )
            self.write_state()
