"""The one settings object (env prefix ``FIELDFLOW_``); no other module reads os.environ."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

TOPICS = (
    "telemetry.positions",
    "telemetry.readings",
    "ingest.deadletter",
    "events.geofence",
    "events.eta",
    "events.alerts",
    "events.workorders",
)

# Escalate an order still `assigned` after this many seconds, per priority (event time).
# The one source of these defaults: the setting below and streams/sla.py use it.
# The broker's packet limit as a multiple of the bridge's message limit (one setting).
MQTT_BROKER_PACKET_FACTOR = 16

DEFAULT_ACCEPT_WITHIN_S: dict[str, int] = {"P1": 300, "P2": 900, "P3": 1800, "P4": 3600}


NotifyKind = Literal["sla_risk", "escalation"]


class Settings(BaseSettings):
    """Every knob of FieldFlow. A URL given here means "use that service, don't start one"."""

    model_config = SettingsConfigDict(env_prefix="FIELDFLOW_", extra="ignore")

    home: Path = Field(default=Path(".fieldflow"), description="state, data dirs, logs")
    host: str = Field(default="127.0.0.1", description="where the API and MQTT listen (set a "
                      "routable address so that phones can connect)")
    backend_host: str = Field(
        default="127.0.0.1", description="where the embedded PostgreSQL, Kafka and the bridge "
        "metrics listen: loopback whatever `host` says; set it only to expose them on purpose",
    )
    postgres_password: str | None = Field(
        default=None, description="the embedded PostgreSQL's superuser password; default: "
        "generated once into $FIELDFLOW_HOME/postgres_password (0600)",
    )

    # External services: set to use them instead of the embedded ones.
    database_url: str | None = None
    kafka_bootstrap: str | None = None
    mqtt_url: str | None = None

    # Ports of the embedded services.
    postgres_port: int = 55432
    kafka_port: int = 19092
    mqtt_port: int = 11883
    api_port: int = 8000

    # TimescaleDB (stack/timescale.py): preload it in the embedded PostgreSQL when it is
    # installed there (auto), never (off), or refuse to start without it (on).
    timescaledb: str = Field(default="auto", pattern="^(auto|on|off)$")
    # Retention of raw telemetry on TimescaleDB (drop_chunks policies; plain PostgreSQL
    # keeps everything). The continuous aggregates keep their buckets.
    positions_retention_days: int = Field(default=180, ge=1)
    readings_retention_days: int = Field(default=365, ge=1)
    geofence_retention_days: int = Field(default=730, ge=1)

    # Kafka
    partitions: int = Field(default=8, ge=1, le=256)
    topic_partitions: dict[str, int] = Field(default_factory=dict)
    # MQTT
    mqtt_broker: str = Field(default="auto", pattern="^(auto|mosquitto|amqtt)$")
    mqtt_auth: bool = Field(default=True, description="mosquitto password file + ACLs (off "
                            "only for a broker nobody else can reach)")
    mqtt_bridge_user: str = "fieldflow-bridge"
    mqtt_bridge_password: str | None = None
    mqtt_fleet_user: str = Field(
        default="fleet-simulator", pattern=r"^fleet-[A-Za-z0-9_.-]{1,58}$",
        description="the demo simulator's and the tests' login (publishes for any device)",
    )
    mqtt_sparkplug_group: str = Field(
        default="fieldflow", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="the Sparkplug group id devices may publish under (pinned by their ACL)",
    )
    bridge_max_in_flight: int = Field(default=5000, ge=1)
    # How long the bridge's producer holds a partition's batch open for more records. The
    # embedded broker's (tansu) CPU goes by produce requests, not records: at 20,000 msgs/s
    # over 8 partitions, 25 ms cost it 35-38% of a core, 50 ms 19-24%, 100 ms 15-16%, and the
    # whole stack's publish -> stored p99 in interleaved runs went 593-6,544 ms / 146-1,032 ms
    # / 311-353 ms (bench e2e, 2026-12-05; every run: docs/benchmarks.md). A record waits at
    # most this long.
    bridge_linger_ms: int = Field(default=100, ge=0, le=1000)
    mqtt_max_message_bytes: int = Field(
        default=262_144, ge=1024, le=16_777_216,
        description="the bridge dead-letters bigger MQTT messages (size, sha256, first 4 KB); "
        "the embedded broker refuses packets above MQTT_BROKER_PACKET_FACTOR times this",
    )
    bridge_metrics_port: int = 9108
    device_rate_limit_per_s: float | None = Field(
        default=None, gt=0, description="per device/phone; excess goes to the dead letter"
    )
    device_rate_burst: float | None = Field(default=None, gt=0)
    max_event_ahead_s: float = Field(
        default=86_400.0, gt=0, description="event times further ahead of the bridge clock "
        "go to the dead letter"
    )
    owntracks_devices: dict[str, str] = Field(
        default_factory=dict, description='"user/device" -> engineer id'
    )

    # Streams
    worker_batch_size: int = Field(default=2000, ge=1)
    # Longest wait for a batch's first record when none is queued (streams.partitioned.take:
    # a batch never waits to fill; docs/streams.md "Batching").
    worker_batch_seconds: float = Field(default=0.05, gt=0)
    # The broker's longest hold of a fetch. The embedded broker (tansu) answers a fetch
    # only after this wait even when records arrive meanwhile: librdkafka's 500 ms default
    # put Kafka produce -> consumed p50 at 229 ms; 20 ms gave 107 ms, and publish -> stored
    # p50/p99 275/543 -> 163/358 ms (bench streams at 20,000/s, 2026-12-05).
    worker_fetch_wait_ms: int = Field(default=20, ge=1, le=500)
    fault_model_path: Path | None = Field(
        default=None, description="default: $FIELDFLOW_HOME/models/fault_fd001.joblib"
    )
    fault_rul_alert_cycles: float = Field(
        default=30.0, gt=0, description="predicted RUL below this raises predicted_failure"
    )
    geofence_dwell_s: float = Field(default=60.0, ge=0)
    geofence_exit_margin_m: float = Field(default=50.0, ge=0)
    geofence_lateness_s: float = Field(default=90.0, ge=0)
    geofence_max_accuracy_m: float = Field(default=100.0, gt=0)
    engineer_offline_after_s: float = Field(default=300.0, gt=0)
    accept_within_s: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_ACCEPT_WITHIN_S),
        description="escalate an assigned order not accepted within this (event time)",
    )
    refresh_s: float = Field(default=5.0, gt=0, description="how often agents reload sites/orders")
    workers: int = Field(default=1, ge=1, le=64, description="stream workers `fieldflow up` runs")
    worker_name: str | None = Field(
        default=None, description="this worker's name in `fieldflow status` "
        "(default <hostname>-<pid>)"
    )
    watermark_max_ahead_s: float = Field(
        default=600.0, gt=0, description="events further ahead of their partition's watermark "
        "are stored and flagged (clock_skew), and do not move it"
    )
    watermark_idle_s: float = Field(
        default=5.0, gt=0, description="wall seconds without records before an idle "
        "partition's watermark advances by itself"
    )
    snapshot_interval_s: float = Field(
        default=5.0, gt=0, description="how often partition state is snapshotted to PostgreSQL"
    )

    # API
    admin_token: str | None = None
    db_pool_size: int = Field(default=8, ge=1)
    auth_failures_burst: int = Field(
        default=30, ge=1, description="failed token lookups an address may make at once ..."
    )
    auth_failures_per_s: float = Field(
        default=0.5, gt=0, description="... and how fast that allowance comes back (then 429)"
    )
    max_json_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="request bodies other than multipart uploads"
    )
    token_default_expiry_days: int | None = Field(
        default=90, ge=1, description="user tokens created without expires_in_days"
    )
    tracking_ttl_after_close_s: float = Field(
        default=7 * 86_400.0, ge=0, description="a tracking link dies this long after its "
        "order is closed or cancelled"
    )
    customer_open_requests_max: int = Field(
        default=20, ge=1, description="open requests a customer may have raised at once"
    )
    arrival_tolerance_s: float = Field(
        default=900.0, ge=0, description="an engineer's reported arrival counts for the SLA "
        "only with a geofence check-in at the site within this of it"
    )
    ws_recheck_s: float = Field(
        default=10.0, gt=0, description="how often an open websocket re-checks its token"
    )
    live_queue_size: int = Field(default=1000, ge=10, description="per websocket client")
    live_send_timeout_s: float = Field(default=10.0, gt=0, description="drop a stuck client")
    webhook_max_attempts: int = Field(default=5, ge=1, le=20)
    webhook_backoff_s: float = Field(default=1.0, gt=0, description="doubles per retry")
    webhook_backoff_max_s: float = Field(default=60.0, gt=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
    webhook_allowed_networks: list[str] = Field(
        default_factory=list,
        description='networks webhooks may reach besides public addresses, e.g. '
        '["10.20.0.0/16"] for an on-premises receiver (loopback, private and link-local '
        "targets are refused otherwise)",
    )
    # The console's street layer: an XYZ tile template, or `none` for the vector map only.
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_tile_attribution: str = (
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
    )
    map_tile_max_zoom: int = Field(default=19, ge=1, le=24)
    public_url: str | None = Field(
        default=None, description="the API's address as phones reach it (enrolment links);"
        " default: the address the dispatcher's request came to")
    enrolment_valid_s: float = Field(default=86_400.0, gt=0, le=30 * 86_400,
                                     description="how long an enrolment link works")
    app_token_days: int = Field(default=90, ge=1, le=3650,
                                description="lifetime of the token an enrolment gives a phone")
    http_ingest_max_batch: int = Field(default=1000, ge=1, description="positions per POST")

    # Notifications to people (services/notifications.py, sent by api/mailer.py over SMTP)
    notify_dispatcher_emails: list[str] = Field(
        default_factory=list, description="the dispatchers on duty, as a JSON list")
    notify_email_on: list[NotifyKind] = Field(
        default_factory=lambda: list[NotifyKind](["sla_risk", "escalation"]),
        description="which events email them: sla_risk, escalation")
    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = Field(default=False, description="STARTTLS after connecting")
    smtp_tls: bool = Field(default=False, description="implicit TLS (port 465)")
    smtp_from: str = "fieldflow@localhost"
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    notify_max_attempts: int = Field(default=8, ge=1, le=50)
    notify_backoff_s: float = Field(default=2.0, gt=0, description="doubles per retry")
    notify_backoff_max_s: float = Field(default=300.0, gt=0)

    # Attachments: a directory under home by default, an S3-compatible store when s3_bucket
    # is set (credentials from s3_access_key/s3_secret_key, else boto3's usual chain).
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    attachments_dir: Path | None = Field(default=None, description="default: $home/attachments")
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_prefix: str = "attachments/"

    # Outbox relay (api/relay.py): sends committed outbox rows after the commit
    outbox_poll_s: float = Field(default=2.0, gt=0, description="backstop to LISTEN/NOTIFY")
    outbox_batch: int = Field(default=500, ge=1, le=10_000)
    outbox_backoff_s: float = Field(default=0.5, gt=0, description="doubles per failed try")
    outbox_backoff_max_s: float = Field(default=30.0, gt=0)
    outbox_keep_sent_s: float = Field(default=86_400.0, ge=0, description="then purged")
    outbox_mqtt_timeout_s: float = Field(default=5.0, gt=0, description="PUBACK wait")
    outbox_kafka_timeout_s: float = Field(
        default=120.0, gt=0, description="how long the idempotent producer keeps retrying a"
        " batch (no duplicates) before the relay counts it failed and backs off")

    # Supervisor
    start_timeout_s: float = 60.0
    log_level: str = "INFO"
    simulate: bool = Field(default=False, description="run the live simulator with `up`")
    sim_drain_max_s: float = Field(
        default=6 * 3600.0, gt=0,
        description="simulated seconds `simulate` waits after the run for its orders to close")

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for net in value:
            ipaddress.ip_network(net, strict=False)  # ValueError names the bad one
        return value

    # Derived -----------------------------------------------------------------
    @property
    def home_dir(self) -> Path:
        return self.home if self.home.is_absolute() else (Path.cwd() / self.home)

    @property
    def run_dir(self) -> Path:
        return self.home_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.home_dir / "logs"

    @property
    def resolved_fault_model_path(self) -> Path:
        return self.fault_model_path or (self.home_dir / "models" / "fault_fd001.joblib")

    @property
    def mqtt_broker_max_packet(self) -> int:
        """The broker's ``max_packet_size``: well above the bridge's limit, so a message
        between the two still reaches the bridge and is dead-lettered with its size and
        hash (mosquitto drops a packet above its own limit and disconnects the sender,
        leaving no trace in Kafka); above it, the broker protects itself."""
        return self.mqtt_max_message_bytes * MQTT_BROKER_PACKET_FACTOR

    @property
    def postgres_password_file(self) -> Path:
        return self.home_dir / "postgres_password"

    @property
    def resolved_attachments_dir(self) -> Path:
        return self.attachments_dir or (self.home_dir / "attachments")

    @property
    def resolved_database_url(self) -> str:
        """The external URL, or the embedded one with its password (once generated)."""
        if self.database_url:
            return self.database_url
        password = self.postgres_password
        if password is None and self.postgres_password_file.exists():
            password = self.postgres_password_file.read_text().strip()
        login = f"postgres:{quote(password, safe='')}" if password else "postgres"
        return f"postgresql://{login}@{self.backend_host}:{self.postgres_port}/fieldflow"

    @property
    def resolved_kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap or f"{self.backend_host}:{self.kafka_port}"

    @property
    def resolved_mqtt_url(self) -> str:
        return self.mqtt_url or f"mqtt://{self.host}:{self.mqtt_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    def partitions_for(self, topic: str) -> int:
        return self.topic_partitions.get(topic, self.partitions)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
