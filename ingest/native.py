"""Native JSON adapter (DESIGN.md §8): engineer positions and device readings.

Numbers must be JSON numbers (``true`` or ``"12"`` are refused, although pydantic's lax
mode would coerce them), so a broken firmware shows up in the dead-letter topic instead
of as plausible-looking data.
"""

from __future__ import annotations

from pydantic import ValidationError

from ingest.routing import TOPIC_POSITIONS, TOPIC_READINGS, Outgoing, Rejected, RejectKind
from ingest.validation import MAX_PAYLOAD_BYTES, json_object, number, require
from models.codec import describe, encode
from models.messages import MAX_METRICS, Position, Reading, Source

__all__ = ["MAX_PAYLOAD_BYTES", "parse_position", "parse_reading"]


def parse_position(engineer_id: str, payload: bytes, received_at: int) -> Outgoing:
    data = json_object(payload)
    require(data, "ts", "lat", "lon")
    try:
        pos = Position(
            engineer_id=engineer_id,
            ts=data["ts"],
            lat=number(data, "lat"),
            lon=number(data, "lon"),
            accuracy_m=number(data, "acc"),
            speed_mps=number(data, "spd"),
            heading=number(data, "hdg"),
            battery=number(data, "batt"),
            source=Source.NATIVE,
            received_at=received_at,
        )
    except ValidationError as exc:
        raise Rejected(describe(exc)) from None
    return Outgoing(TOPIC_POSITIONS, pos.engineer_id, encode(pos), pos.ts)


def parse_reading(device_id: str, payload: bytes, received_at: int) -> Outgoing:
    data = json_object(payload)
    require(data, "ts", "metrics")
    metrics = data["metrics"]
    if not isinstance(metrics, dict):
        raise Rejected("metrics: must be an object of name -> number")
    if len(metrics) > MAX_METRICS:
        raise Rejected(f"{len(metrics)} metrics exceed {MAX_METRICS}", RejectKind.TOO_LARGE)
    checked = {str(name): number(metrics, name) for name in metrics}
    try:
        reading = Reading(
            device_id=device_id,
            ts=data["ts"],
            metrics=checked,
            source=Source.NATIVE,
            received_at=received_at,
        )
    except ValidationError as exc:
        raise Rejected(describe(exc)) from None
    return Outgoing(TOPIC_READINGS, reading.device_id, encode(reading), reading.ts)
