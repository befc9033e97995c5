"""Message schemas of DESIGN.md §4: one set of pydantic models for every topic.

Timestamps are event time in UTC milliseconds (``ts``); the bridge's receive time is
``received_at`` beside it. Validation lives here so that every entry point (MQTT
adapters, the API, the simulators) rejects the same bad input with the same reason.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.timeutil import parse_ts_ms

# Identifiers appear in MQTT topics, Kafka keys and URLs: keep them boring.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
Ident = Annotated[str, Field(pattern=ID_PATTERN)]
MAX_METRICS = 256
METRIC_NAME_PATTERN = r"^[A-Za-z0-9_./:-]{1,64}$"
METRIC_NAME_RE = re.compile(METRIC_NAME_PATTERN)  # fullmatch: "$" alone lets a trailing "\n" in
MetricName = Annotated[str, Field(pattern=METRIC_NAME_PATTERN)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class Source(StrEnum):
    NATIVE = "native"
    OWNTRACKS = "owntracks"
    TRACCAR = "traccar"  # Traccar Client (OsmAnd protocol) over HTTP
    SPARKPLUG = "sparkplug"
    SIMULATOR = "simulator"
    API = "api"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _finite(value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


class Position(_Message):
    """An engineer's GPS fix (topic ``telemetry.positions``, key engineer id)."""

    engineer_id: Ident
    ts: int = Field(description="event time, UTC epoch milliseconds")
    lat: float = Field(ge=-90.0, le=90.0)
    lon: float = Field(ge=-180.0, le=180.0)
    accuracy_m: float | None = Field(default=None, ge=0.0, le=100_000.0)
    speed_mps: float | None = Field(default=None, ge=0.0, le=400.0)
    heading: float | None = Field(default=None, ge=0.0, le=360.0)
    battery: float | None = Field(default=None, ge=0.0, le=100.0)
    source: Source = Source.NATIVE
    received_at: int | None = None

    @field_validator("ts", mode="before")
    @classmethod
    def _check_ts(cls, value: object) -> int:
        return parse_ts_ms(value)

    @field_validator("lat", "lon", "accuracy_m", "speed_mps", "heading", "battery")
    @classmethod
    def _check_finite(cls, value: float | None) -> float | None:
        return _finite(value)


class Reading(_Message):
    """A device's sensor readings (topic ``telemetry.readings``, key device id)."""

    device_id: Ident
    ts: int
    # Checked by pydantic-core itself (no Python validator per reading: the stream worker
    # decodes 20,000 a second): 1..MAX_METRICS names matching METRIC_NAME_PATTERN (its
    # "$" is the end of the text there), finite values.
    metrics: Annotated[dict[MetricName, FiniteFloat],
                       Field(min_length=1, max_length=MAX_METRICS)]
    source: Source = Source.NATIVE
    received_at: int | None = None

    @field_validator("ts", mode="before")
    @classmethod
    def _check_ts(cls, value: object) -> int:
        return parse_ts_ms(value)


class DeadLetter(_Message):
    """A message the bridge could not accept (topic ``ingest.deadletter``)."""

    topic: str
    payload_b64: str
    reason: str
    received_at: int

    @field_validator("topic", "reason")
    @classmethod
    def _encodable(cls, v: str) -> str:
        """Lone surrogates (from ``\\ud961`` in a JSON payload, quoted in the reason) cannot
        be written as UTF-8: keep them as visible escapes so the dead letter always goes out."""
        return v.encode("utf-8", "backslashreplace").decode("utf-8")


class GeofenceKind(StrEnum):
    ENTER = "enter"  # check-in
    EXIT = "exit"  # check-out
    PASS_THROUGH = "pass_through"  # a fence crossed without a check-in (drive-through)


class GeofenceEvent(_Message):
    engineer_id: Ident
    site_id: Ident
    kind: GeofenceKind
    ts: int
    work_order_id: str | None = None
    dwell_s: float | None = None
    lat: float | None = None
    lon: float | None = None
    event_id: str | None = Field(default=None, description="stable id set by the outbox")


class EtaUpdate(_Message):
    work_order_id: str
    engineer_id: Ident
    ts: int
    eta_ts: int
    remaining_m: float
    speed_mps: float
    confidence: float = Field(ge=0.0, le=1.0)
    late_by_s: float | None = None


class AlertState(StrEnum):
    OPENED = "opened"
    UPDATED = "updated"
    CLEARED = "cleared"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    MAJOR = "major"
    CRITICAL = "critical"


class AlertEvent(_Message):
    device_id: Ident
    asset_id: str | None = None
    fault_type: str
    kind: str = Field(description="rule | prediction | offline | sla_risk | low_stock")
    severity: Severity
    dedup_key: str
    state: AlertState
    ts: int
    message: str = ""
    value: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    event_id: str | None = Field(default=None, description="stable id set by the outbox")


class WorkOrderEvent(_Message):
    work_order_id: str
    from_status: str | None
    to_status: str
    ts: int
    actor: str
    reason: str = ""
    engineer_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    event_id: str | None = Field(default=None, description="stable id set by the outbox")
