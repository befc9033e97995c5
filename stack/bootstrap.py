"""Readiness probes and one-time setup steps used by the supervisor and tests."""

from __future__ import annotations

import logging
import secrets
import urllib.request
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

from stack.procs import MissingDependency
from stack.settings import TOPICS, Settings
from store.migrate import migrate
from store.tokens import ensure_token

log = logging.getLogger("fieldflow.up")


def missing(what: str, how: str) -> MissingDependency:
    return MissingDependency(f"{what} is not installed: {how}")


def _admin_url(settings: Settings) -> str:
    u = urlparse(settings.resolved_database_url)
    return urlunparse(u._replace(path="/postgres"))


def postgres_ready(settings: Settings) -> bool:
    with psycopg.connect(_admin_url(settings), connect_timeout=1) as conn:
        conn.execute("SELECT 1")
    return True


def ensure_database(settings: Settings) -> None:
    if settings.database_url:
        return
    name = urlparse(settings.resolved_database_url).path.lstrip("/")
    with psycopg.connect(_admin_url(settings), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
            log.info("postgres: created database %s", name)


def kafka_ready(settings: Settings) -> bool:
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": settings.resolved_kafka_bootstrap})
    admin.list_topics(timeout=2)
    return True


def create_topics(settings: Settings) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

    admin = AdminClient({"bootstrap.servers": settings.resolved_kafka_bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    wanted = [
        NewTopic(t, num_partitions=settings.partitions_for(t), replication_factor=1)
        for t in TOPICS
        if t not in existing
    ]
    if not wanted:
        return
    for topic, fut in admin.create_topics(wanted, operation_timeout=10).items():
        try:
            fut.result()
            log.info(
                "kafka: created topic %s (%d partitions)", topic, settings.partitions_for(topic)
            )
        except Exception as exc:
            if "TOPIC_ALREADY_EXISTS" not in str(exc):
                raise


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310 - our own localhost URL
        return bool(resp.status == 200)


def write_mqtt_config(settings: Settings, *, mosquitto: bool) -> Path:
    conf_dir = settings.home_dir / "mqtt"
    conf_dir.mkdir(parents=True, exist_ok=True)
    if mosquitto:
        lines = [
            f"listener {settings.mqtt_port} {settings.host}",
            "persistence false",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "max_queued_messages 100000",
            "max_inflight_messages 1000",
            "user root" if _is_root() else "",
        ]
        if settings.mqtt_auth:
            lines += [
                "allow_anonymous false",
                f"password_file {conf_dir / 'passwd'}",
                f"acl_file {conf_dir / 'acl'}",
            ]
        else:
            lines.append("allow_anonymous true")
        path = conf_dir / "mosquitto.conf"
        path.write_text("\n".join(line for line in lines if line) + "\n")
        return path
    path = conf_dir / "amqtt.yaml"
    path.write_text(
        "listeners:\n"
        "  default:\n"
        "    type: tcp\n"
        f"    bind: {settings.host}:{settings.mqtt_port}\n"
        "    max_connections: 10000\n"
        "plugins:\n"
        "  amqtt.plugins.authentication.AnonymousAuthPlugin:\n"
        "    allow_anonymous: true\n"
        "  amqtt.plugins.sys.broker.BrokerSysPlugin:\n"
        "    sys_interval: 0\n"
    )
    return path


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


def admin_token(settings: Settings) -> str:
    """The bootstrap admin token: from settings, else generated once under the home dir."""
    if settings.admin_token:
        return settings.admin_token
    path = settings.home_dir / "admin_token"
    if path.exists():
        return path.read_text().strip()
    token = secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token + "\n")
    path.chmod(0o600)
    return token


def migrate_and_seed(settings: Settings) -> str:
    """Apply migrations and register the bootstrap admin token (stored hashed)."""
    result = migrate(settings.resolved_database_url)
    log.info(
        "migrations: %d applied (timescaledb: %s)",
        len(result.applied),
        "yes" if result.timescale else "no, plain PostgreSQL",
    )
    token = admin_token(settings)
    with psycopg.connect(settings.resolved_database_url, autocommit=True) as conn:
        ensure_token(conn, token, role="admin", user_id="admin", name="Administrator")
    return token
