"""Native JSON adapter (DESIGN.md §8): engineer positions and device readings.

Numbers must be JSON numbers (``true`` or ``"12"`` are refused, although pydantic's lax
mode would coerce them), so a broken firmware shows up in the dead-letter topic instead
of as plausible-looking data.

Each parser first tries a fast path for the common, well-formed message (orjson, plain
checks, no pydantic model): it accepts only what the pydantic models accept and writes
the same JSON, which a property test holds it to. Anything it is unsure of (an ISO time,
a bad range, a strange name) falls through to the model, which gives the reason.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from pydantic import ValidationError

from ingest.routing import TOPIC_POSITIONS, TOPIC_READINGS, Outgoing, Rejected, RejectKind
from ingest.validation import MAX_PAYLOAD_BYTES, json_object, number, require
from models.codec import describe, encode
from models.messages import MAX_METRICS, METRIC_NAME_RE, Position, Reading, Source
from models.timeutil import parse_ts_ms

__all__ = ["MAX_PAYLOAD_BYTES", "parse_position", "parse_reading"]


_known_names: set[str] = set()  # metric names that passed the pattern (bounded below)


def _bounds(field: str) -> tuple[float, float]:
    """The inclusive range the ``Position`` model sets on ``field`` (its ge/le)."""
    meta = Position.model_fields[field].metadata
    low = next(m.ge for m in meta if hasattr(m, "ge"))
    high = next(m.le for m in meta if hasattr(m, "le"))
    return float(low), float(high)


# Position fields: payload key, model field, and the model's own inclusive range.
_POSITION_FIELDS = tuple(
    (key, field, *_bounds(field))
    for key, field in (("lat", "lat"), ("lon", "lon"), ("acc", "accuracy_m"),
                       ("spd", "speed_mps"), ("hdg", "heading"), ("batt", "battery"))
)


def _fast_object(payload: bytes) -> dict[str, Any] | None:
    if len(payload) > MAX_PAYLOAD_BYTES:
        return None
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return data if type(data) is dict else None


def _fast_float(value: object) -> float | None:
    """A finite JSON number as float, or None (absent values are the caller's concern)."""
    kind = type(value)
    if kind is float or kind is int:  # not bool, a subclass of int
        number = float(value)  # type: ignore[arg-type]
        return number if math.isfinite(number) else None
    return None


def _fast_ts(value: object) -> int | None:
    if type(value) is not int and type(value) is not float:
        return None  # ISO strings and the rest: the model path
    try:
        return parse_ts_ms(value)
    except ValueError:
        return None


def _fast_position(engineer_id: str, payload: bytes, received_at: int) -> Outgoing | None:
    data = _fast_object(payload)
    if data is None:
        return None
    ts = _fast_ts(data.get("ts"))
    if ts is None:
        return None
    out: dict[str, object] = {"engineer_id": engineer_id, "ts": ts}
    for key, name, low, high in _POSITION_FIELDS:
        raw = data.get(key)
        if raw is None:
            if key in ("lat", "lon"):
                return None
            continue
        value = _fast_float(raw)
        if value is None or not low <= value <= high:
            return None
        out[name] = value
    out["source"] = "native"
    out["received_at"] = received_at
    return Outgoing(TOPIC_POSITIONS, engineer_id, orjson.dumps(out), ts)


def _fast_reading(device_id: str, payload: bytes, received_at: int) -> Outgoing | None:
    data = _fast_object(payload)
    if data is None:
        return None
    ts = _fast_ts(data.get("ts"))
    metrics = data.get("metrics")
    if ts is None or type(metrics) is not dict or not 0 < len(metrics) <= MAX_METRICS:
        return None
    checked: dict[str, float] = {}
    for name, raw in metrics.items():
        value = _fast_float(raw)
        if value is None:
            return None
        if name not in _known_names:
            if type(name) is not str or not METRIC_NAME_RE.fullmatch(name):
                return None
            if len(_known_names) < 10_000:
                _known_names.add(name)
        checked[name] = value
    out = {"device_id": device_id, "ts": ts, "metrics": checked, "source": "native",
           "received_at": received_at}
    return Outgoing(TOPIC_READINGS, device_id, orjson.dumps(out), ts)


def parse_position(engineer_id: str, payload: bytes, received_at: int) -> Outgoing:
    fast = _fast_position(engineer_id, payload, received_at)
    return fast if fast is not None else _model_position(engineer_id, payload, received_at)


def parse_reading(device_id: str, payload: bytes, received_at: int) -> Outgoing:
    fast = _fast_reading(device_id, payload, received_at)
    return fast if fast is not None else _model_reading(device_id, payload, received_at)


def _model_position(engineer_id: str, payload: bytes, received_at: int) -> Outgoing:
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


def _model_reading(device_id: str, payload: bytes, received_at: int) -> Outgoing:
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
