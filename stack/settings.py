"""The one settings object (env prefix ``FIELDFLOW_``); no other module reads os.environ."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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
DEFAULT_ACCEPT_WITHIN_S: dict[str, int] = {"P1": 300, "P2": 900, "P3": 1800, "P4": 3600}


class Settings(BaseSettings):
    """Every knob of FieldFlow. A URL given here means "use that service, don't start one"."""

    model_config = SettingsConfigDict(env_prefix="FIELDFLOW_", extra="ignore")

    home: Path = Field(default=Path(".fieldflow"), description="state, data dirs, logs")
    host: str = "127.0.0.1"

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
    mqtt_auth: bool = False
    mqtt_bridge_user: str = "fieldflow-bridge"
    mqtt_bridge_password: str | None = None
    bridge_max_in_flight: int = Field(default=5000, ge=1)
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
    worker_batch_seconds: float = Field(default=0.2, gt=0)
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
    live_queue_size: int = Field(default=1000, ge=10, description="per websocket client")
    live_send_timeout_s: float = Field(default=10.0, gt=0, description="drop a stuck client")
    webhook_max_attempts: int = Field(default=5, ge=1, le=20)
    webhook_backoff_s: float = Field(default=1.0, gt=0, description="doubles per retry")
    webhook_backoff_max_s: float = Field(default=60.0, gt=0)
    webhook_timeout_s: float = Field(default=5.0, gt=0)
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
    def resolved_attachments_dir(self) -> Path:
        return self.attachments_dir or (self.home_dir / "attachments")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or (
            f"postgresql://postgres@{self.host}:{self.postgres_port}/fieldflow"
        )

    @property
    def resolved_kafka_bootstrap(self) -> str:
        return self.kafka_bootstrap or f"{self.host}:{self.kafka_port}"

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
