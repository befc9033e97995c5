"""Issue #22: the embedded stack is closed by default, even when FIELDFLOW_HOST is a
routable address (here 0.0.0.0, as an operator sets it so that phones can connect).

- PostgreSQL and Kafka listen on loopback only; the API and MQTT on FIELDFLOW_HOST;
- PostgreSQL refuses a connection without the password (scram-sha-256) or with a wrong
  one; the generated password sits in a 0600 file;
- MQTT refuses an anonymous client; the fleet login of ``status --json`` is accepted;
- secrets are in ``status --json`` (for scripts) but not in the plain ``status``.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlparse, urlunparse

import psutil
import psycopg
import pytest

from stack.procs import find_mosquitto
from tests.e2e.conftest import REPO, Stack, close_mqtt, mqtt_client, run_stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(find_mosquitto() is None, reason="MQTT auth needs mosquitto"),
]


@pytest.fixture(scope="module")
def open_host_stack() -> Iterator[Stack]:
    yield from run_stack(FIELDFLOW_HOST="0.0.0.0", FIELDFLOW_PARTITIONS="1")


def _listening(port: int) -> set[str]:
    return {c.laddr.ip for c in psutil.net_connections(kind="tcp")  # type: ignore[union-attr]
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port}  # type: ignore[union-attr]


def test_backends_listen_on_loopback_whatever_the_host(open_host_stack: Stack) -> None:
    env = open_host_stack.env
    assert _listening(int(env["FIELDFLOW_POSTGRES_PORT"])) == {"127.0.0.1"}
    assert _listening(int(env["FIELDFLOW_KAFKA_PORT"])) == {"127.0.0.1"}
    assert _listening(int(env["FIELDFLOW_BRIDGE_METRICS_PORT"])) == {"127.0.0.1"}
    # what phones need is on the routable address
    assert _listening(int(env["FIELDFLOW_MQTT_PORT"])) == {"0.0.0.0"}
    assert _listening(int(env["FIELDFLOW_API_PORT"])) == {"0.0.0.0"}


def test_postgres_refuses_a_connection_without_the_password(open_host_stack: Stack) -> None:
    url = urlparse(open_host_stack.database_url)
    assert url.password, "status --json gives scripts the URL with its password"
    without = urlunparse(url._replace(netloc=f"postgres@{url.hostname}:{url.port}"))
    wrong = urlunparse(url._replace(netloc=f"postgres:wrong@{url.hostname}:{url.port}"))
    for bad in (without, wrong):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(bad, connect_timeout=5)
    with psycopg.connect(open_host_stack.database_url, connect_timeout=5) as conn:
        method = conn.execute("SHOW password_encryption").fetchone()
        assert method is not None and method[0] == "scram-sha-256"
        row = conn.execute("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid"
                           " WHERE rolname = 'postgres'").fetchone()
        assert row == (True,)


def test_secret_files_are_private(open_host_stack: Stack) -> None:
    home = open_host_stack.home
    for name in ("postgres_password", "admin_token", "state.json", "mqtt/passwd", "mqtt/acl",
                 "mqtt/credentials.json", "mqtt/bridge_password", "mqtt/fleet_password"):
        mode = stat.S_IMODE((home / name).stat().st_mode)
        assert mode == 0o600, f"{name}: {oct(mode)}"


def _connack(stack: Stack, login: tuple[str, str] | None) -> Any:
    # the stack listens on 0.0.0.0 here: connect to loopback
    user, password = login if login else (None, None)
    c, reason = mqtt_client(stack, user, password, host="127.0.0.1")
    close_mqtt(c)
    return reason


def test_mqtt_needs_a_login_by_default(open_host_stack: Stack) -> None:
    assert _connack(open_host_stack, None).is_failure
    assert _connack(open_host_stack, ("fleet-simulator", "wrong")).is_failure
    assert open_host_stack.mqtt_login is not None
    assert not _connack(open_host_stack, open_host_stack.mqtt_login).is_failure


def test_plain_status_hides_secrets_and_json_keeps_them(open_host_stack: Stack) -> None:
    plain = open_host_stack.cli("status").stdout
    st = open_host_stack.status
    password = urlparse(st["database_url"]).password
    assert password and password not in plain and "postgres" in plain
    assert st["admin_token"] not in plain
    assert st["admin_token"] and st["mqtt_fleet_url"]
    logs = "".join(p.read_text(errors="replace")
                   for p in (open_host_stack.home / "logs").glob("*.log"))
    assert password not in logs and st["admin_token"] not in logs


def test_rotating_the_bootstrap_admin_token_revokes_the_old_one(open_host_stack: Stack) -> None:
    old = open_host_stack.admin_token
    new = f"rotated-{uuid.uuid4().hex}"
    migrate = subprocess.run([sys.executable, "-m", "stack.cli", "migrate"],
                             env={**open_host_stack.env, "FIELDFLOW_ADMIN_TOKEN": new},
                             cwd=REPO, capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    with open_host_stack.api(new) as api:
        assert api.get("/api/v1/parts").status_code == 200
    with open_host_stack.api(old) as api:
        assert api.get("/api/v1/parts").status_code == 401
