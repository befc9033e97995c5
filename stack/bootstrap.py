"""Readiness probes and one-time setup steps used by the supervisor and tests."""

from __future__ import annotations

import json
import logging
import secrets
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote, urlparse, urlunparse

import psycopg

from stack.procs import MissingDependency
from stack.secrets import read_or_create, write_private
from stack.settings import TOPICS, Settings
from store.migrate import apply_retention, migrate
from store.tokens import ensure_token, rotate_bootstrap_token

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
    with urllib.request.urlopen(url, timeout=1) as resp:  # noqa: S310  # nosec B310 - our own http:// health URL
        return bool(resp.status == 200)


def write_mqtt_config(settings: Settings, *, mosquitto: bool) -> Path:
    conf_dir = settings.home_dir / "mqtt"
    conf_dir.mkdir(parents=True, exist_ok=True)
    if mosquitto:
        lines = [
            f"listener {settings.mqtt_port} {settings.host}",
            # Persistent sessions survive a broker restart (the bridge's subscription
            # and the QoS 1 messages queued for it), saved every 10 s and at shutdown.
            "persistence true",
            f"persistence_location {conf_dir}/",
            "autosave_interval 10",
            "log_dest stdout",
            "log_type error",
            "log_type warning",
            "max_queued_messages 1000000",
            "max_inflight_messages 1000",
            # One setting bounds messages: the bridge dead-letters those above
            # mqtt_max_message_bytes; the broker refuses packets above 16 times that.
            f"max_packet_size {settings.mqtt_broker_max_packet}",
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


def bridge_password(settings: Settings) -> str:
    """The bridge's MQTT password: from settings, else generated once under the home dir."""
    if settings.mqtt_bridge_password:
        return settings.mqtt_bridge_password
    from ingest.auth import generate_password

    return read_or_create(settings.home_dir / "mqtt" / "bridge_password", generate_password)


def fleet_password(settings: Settings) -> str:
    """The fleet user's MQTT password (the demo simulator, the tests), generated once."""
    from ingest.auth import generate_password

    return read_or_create(settings.home_dir / "mqtt" / "fleet_password", generate_password)


def fleet_mqtt_url(settings: Settings) -> str:
    """``mqtt://fleet-user:password@host:port`` for the simulator and the tests."""
    login = f"{quote(settings.mqtt_fleet_user, safe='')}:{quote(fleet_password(settings), safe='')}"
    return f"mqtt://{login}@{settings.host}:{settings.mqtt_port}"


def postgres_password(settings: Settings) -> str:
    """The embedded PostgreSQL's password: from settings, else generated once (0600)."""
    if settings.postgres_password:
        return settings.postgres_password
    return read_or_create(settings.postgres_password_file, lambda: secrets.token_urlsafe(24))


def write_mqtt_credentials(
    settings: Settings,
    out_dir: Path,
    *,
    devices: Iterable[str] = (),
    engineers: Iterable[str] = (),
) -> dict[str, str]:
    """Add users to ``out_dir/passwd`` (existing users are kept), re-render ``acl`` for all
    of them, and merge the new passwords into ``credentials.json`` (0600).

    The bridge user (``mqtt_bridge_user``, password from :func:`bridge_password`) is always
    present. Returns ``username -> password`` of the users written by this call.
    """
    from ingest.auth import Credential, merge_password_file, password_file_users, render_acl

    new = [Credential(settings.mqtt_bridge_user, bridge_password(settings)),
           Credential(settings.mqtt_fleet_user, fleet_password(settings))]
    new += [Credential.device(d) for d in devices]
    new += [Credential.engineer(e) for e in engineers]
    out_dir.mkdir(parents=True, exist_ok=True)
    passwd, acl, creds = out_dir / "passwd", out_dir / "acl", out_dir / "credentials.json"
    text = merge_password_file(passwd.read_text() if passwd.exists() else "", new)
    write_private(passwd, text)
    write_private(acl, render_acl(password_file_users(text), settings.mqtt_bridge_user,
                                   settings.mqtt_sparkplug_group))
    known: dict[str, str] = json.loads(creds.read_text()) if creds.exists() else {}
    generated = {c.username: c.password for c in new}
    write_private(creds, json.dumps({**known, **generated}, indent=2) + "\n")
    return generated


def _known_ids(settings: Settings) -> tuple[list[str], list[str]]:
    """Engineer ids and device ids already in the database (none before the first migrate)."""
    from ingest.auth import usable_id

    try:
        with psycopg.connect(settings.resolved_database_url, connect_timeout=2) as conn:
            engineers = [r[0] for r in conn.execute("SELECT id FROM engineers ORDER BY id")]
            devices = [
                r[0]
                for r in conn.execute(
                    "SELECT device_id FROM assets WHERE device_id IS NOT NULL ORDER BY device_id"
                )
            ]
    except psycopg.Error:
        return [], []
    usable = [i for i in engineers + devices if usable_id(i)]
    if len(usable) < len(engineers) + len(devices):
        log.warning("mqtt: ids with characters other than letters, digits, _ . - get no MQTT user")
    return (
        [e for e in engineers if usable_id(e)],
        [d for d in devices if usable_id(d)],
    )


def ensure_mqtt_auth_files(settings: Settings) -> None:
    """With ``mqtt_auth``: create ``$FIELDFLOW_HOME/mqtt/passwd`` and ``acl`` when missing
    (the bridge user plus the engineers and devices known in the database)."""
    conf_dir = settings.home_dir / "mqtt"
    passwd, acl = conf_dir / "passwd", conf_dir / "acl"
    how = (
        f"add devices and phones with `fieldflow mqtt-credentials --out {conf_dir} "
        "--devices d1,d2 --engineers e1,e2` (existing users are kept; a running mosquitto "
        "reloads the files); each device logs in as dev-<device id>, each phone as "
        "eng-<engineer id>"
    )
    if passwd.exists() and acl.exists():
        from ingest.auth import password_file_users

        users = password_file_users(passwd.read_text())
        if not {settings.mqtt_bridge_user, settings.mqtt_fleet_user} <= set(users):
            write_mqtt_credentials(settings, conf_dir)
        log.info("mqtt: authentication on, %d users in %s; %s", len(users), passwd, how)
        return
    engineers, devices = _known_ids(settings)
    write_mqtt_credentials(settings, conf_dir, devices=devices, engineers=engineers)
    log.info(
        "mqtt: authentication on; generated %s and %s (bridge user %s, %d engineers, "
        "%d devices); passwords in %s (0600); %s",
        passwd,
        acl,
        settings.mqtt_bridge_user,
        len(engineers),
        len(devices),
        conf_dir / "credentials.json",
        how,
    )


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


def admin_token(settings: Settings) -> str:
    """The bootstrap admin token: from settings, else generated once under the home dir."""
    if settings.admin_token:
        return settings.admin_token
    return read_or_create(settings.home_dir / "admin_token", lambda: secrets.token_urlsafe(32))


def migrate_and_seed(settings: Settings) -> str:
    """Apply migrations and register the bootstrap admin token (stored hashed)."""
    result = migrate(settings.resolved_database_url)
    apply_retention(settings.resolved_database_url, {
        "positions": settings.positions_retention_days,
        "readings": settings.readings_retention_days,
        "geofence_events": settings.geofence_retention_days,
    })
    log.info(
        "migrations: %d applied (timescaledb: %s)",
        len(result.applied),
        "yes" if result.timescale else "no, plain PostgreSQL",
    )
    token = admin_token(settings)
    with psycopg.connect(settings.resolved_database_url, autocommit=True) as conn:
        ensure_token(conn, token, role="admin", user_id="admin", name="Administrator")
        revoked = rotate_bootstrap_token(conn, token)
    if revoked:
        log.info("admin token: the previous bootstrap token was revoked (%d)", revoked)
    return token
