"""Readiness probes and one-time setup steps used by the supervisor and tests."""

from __future__ import annotations

import json
import logging
import secrets
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

from stack.procs import MissingDependency
from stack.settings import TOPICS, Settings
from store.migrate import apply_retention, migrate
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
    path = settings.home_dir / "mqtt" / "bridge_password"
    if path.exists():
        return path.read_text().strip()
    from ingest.auth import generate_password

    password = generate_password()
    _write_private(path, password + "\n")
    return password


def _write_private(path: Path, text: str) -> None:
    """Write a secret file readable by its owner only (created 0600, never world-readable)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    tmp.touch(mode=0o600)
    tmp.write_text(text)
    tmp.replace(path)


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

    new = [Credential(settings.mqtt_bridge_user, bridge_password(settings))]
    new += [Credential.device(d) for d in devices]
    new += [Credential.engineer(e) for e in engineers]
    out_dir.mkdir(parents=True, exist_ok=True)
    passwd, acl, creds = out_dir / "passwd", out_dir / "acl", out_dir / "credentials.json"
    text = merge_password_file(passwd.read_text() if passwd.exists() else "", new)
    _write_private(passwd, text)
    _write_private(acl, render_acl(password_file_users(text), settings.mqtt_bridge_user))
    known: dict[str, str] = json.loads(creds.read_text()) if creds.exists() else {}
    generated = {c.username: c.password for c in new}
    _write_private(creds, json.dumps({**known, **generated}, indent=2) + "\n")
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
        if settings.mqtt_bridge_user not in users:
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
    return token
