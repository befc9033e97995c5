"""Traccar Client (the OsmAnd protocol) adapter: one or more fixes per HTTP request.

Two shapes reach ``/ingest/osmand`` (as Traccar's own ``OsmAndProtocolDecoder`` reads them):

- query parameters (older Traccar Client, OsmAnd, many trackers), in the URL or, when the
  URL has none, as a form-encoded body: ``id`` (or ``deviceid``), ``lat``, ``lon`` (or
  ``location=lat,lon``), ``timestamp`` (epoch seconds, epoch ms, ISO-8601 or
  ``yyyy-MM-dd HH:mm:ss``; the receive time when absent), ``speed`` (knots), ``bearing``
  (or ``heading``), ``altitude``, ``accuracy`` (m), ``batt`` (percent); other parameters
  (``hdop``, ``charge``, sensors) are ignored;
- a JSON body (Traccar Client 9+, built on a background-geolocation library):
  ``{"device_id": .., "location": {"timestamp": ISO, "coords": {"latitude",
  "longitude", "accuracy", "speed" (m/s), "heading", "altitude"}, "battery": {"level":
  0..1, "is_charging"}, "is_moving", "odometer", "event", "activity", "extras"}}``;
  ``location`` may also be a list (the library's batch sync). ``-1`` means unknown for
  speed, heading and battery level.

The device id is the engineer's ``tracker_id``; the caller maps it (the adapter knows no
engineers). Altitude has no place in the Position schema and is not carried.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ingest.routing import TOPIC_POSITIONS, Outgoing, Rejected, RejectKind
from ingest.validation import ID_RE, MAX_PAYLOAD_BYTES, check_size
from models.codec import describe, encode
from models.messages import Position, Source

KNOTS_TO_MPS = 1852 / 3600
_INT32_MAX = 2**31 - 1
MAX_FIXES = 1000


@dataclass(frozen=True, slots=True)
class Fix:
    """One fix as the client sent it, in FieldFlow's units (not yet range-checked)."""

    ts: object  # epoch ms, or an ISO-8601 string; None: the receive time
    lat: float | None
    lon: float | None
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading: float | None = None
    battery: float | None = None


@dataclass(frozen=True, slots=True)
class OsmAndRequest:
    tracker_id: str
    fixes: list[Fix]


def _float(value: object, key: str) -> float | None:
    """A finite number from a query string or JSON value; None when absent or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise Rejected(f"{key}: must be a number, got a boolean")
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise Rejected(f"{key}: {value[:40]!r} is not a number") from None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        raise Rejected(f"{key}: must be a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise Rejected(f"{key}: must be a finite number")
    return number


def _known(value: float | None) -> float | None:
    """Negative speed, heading or battery is the clients' "unknown"."""
    return None if value is None or value < 0 else value


def _query_ts(text: str | None) -> object:
    """Traccar's reading: an integer below 2^31 is seconds, above it milliseconds; else a
    date (ISO-8601 with ``T``, or ``yyyy-MM-dd HH:mm:ss``, taken as UTC)."""
    if text is None or not text.strip():
        return None
    text = text.strip()
    if text.lstrip("-").isdigit():
        value = int(text)
        return value * 1000 if value < _INT32_MAX else value
    return text


def _tracker_id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise Rejected("missing device id ('id' or 'deviceid')", RejectKind.UNKNOWN_DEVICE)
    if not ID_RE.fullmatch(value):
        raise Rejected(f"bad device id {value[:80]!r}", RejectKind.UNKNOWN_DEVICE)
    return value


def read_query(params: Iterable[tuple[str, str]]) -> OsmAndRequest:
    """The query-string (or form body) shape: one fix."""
    first: dict[str, str] = {}
    for key, value in params:
        first.setdefault(key, value)
    if not first:
        raise Rejected("no parameters: expected id, lat, lon, timestamp", RejectKind.MALFORMED)
    tracker = _tracker_id(first.get("id") or first.get("deviceid"))
    lat, lon = _float(first.get("lat"), "lat"), _float(first.get("lon"), "lon")
    if "location" in first and (lat is None or lon is None):
        parts = first["location"].split(",")
        if len(parts) != 2:
            raise Rejected("location: expected 'lat,lon'")
        lat, lon = _float(parts[0], "location lat"), _float(parts[1], "location lon")
    speed = _known(_float(first.get("speed"), "speed"))
    heading = first.get("bearing", first.get("heading"))
    fix = Fix(
        ts=_query_ts(first.get("timestamp")),
        lat=lat,
        lon=lon,
        accuracy_m=_known(_float(first.get("accuracy"), "accuracy")),
        speed_mps=None if speed is None else round(speed * KNOTS_TO_MPS, 3),
        heading=_known(_float(heading, "bearing")),
        battery=_known(_float(first.get("batt"), "batt")),
    )
    return OsmAndRequest(tracker, [fix])


def _object(value: object, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Rejected(f"{what}: must be a JSON object", RejectKind.MALFORMED)
    return value


def _json_fix(location: object, index: int | None) -> Fix:
    where = "location" if index is None else f"location[{index}]"
    loc = _object(location, where)
    coords = loc.get("coords")
    if coords is None:
        raise Rejected(f"{where}: missing 'coords' (latitude, longitude)")
    coords = _object(coords, f"{where}.coords")
    battery = loc.get("battery")
    level = None
    if battery is not None:
        level = _known(_float(_object(battery, f"{where}.battery").get("level"), "battery.level"))
    timestamp = loc.get("timestamp")
    if timestamp is not None and not isinstance(timestamp, str | int | float):
        raise Rejected(f"{where}.timestamp: must be an ISO-8601 string")
    return Fix(
        ts=timestamp,
        lat=_float(coords.get("latitude"), "latitude"),
        lon=_float(coords.get("longitude"), "longitude"),
        accuracy_m=_known(_float(coords.get("accuracy"), "accuracy")),
        speed_mps=_known(_float(coords.get("speed"), "speed")),
        heading=_known(_float(coords.get("heading"), "heading")),
        battery=None if level is None else round(min(level, 1.0) * 100, 1),
    )


def read_json(payload: bytes, limit: int = MAX_PAYLOAD_BYTES * 16) -> OsmAndRequest:
    """The JSON body shape: one fix, or a list of them under ``location``."""
    check_size(payload, limit)
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise Rejected(f"not JSON: {exc}"[:200], RejectKind.MALFORMED) from None
    root = _object(data, "body")
    tracker = _tracker_id(root.get("device_id"))
    location = root.get("location")
    if location is None:
        raise Rejected("missing 'location'")
    if isinstance(location, list):
        if not 0 < len(location) <= MAX_FIXES:
            raise Rejected(f"location: 1 to {MAX_FIXES} fixes", RejectKind.TOO_LARGE)
        return OsmAndRequest(tracker, [_json_fix(loc, i) for i, loc in enumerate(location)])
    return OsmAndRequest(tracker, [_json_fix(location, None)])


def to_record(engineer_id: str, fix: Fix, received_at: int) -> Outgoing:
    """The fix as a ``Position`` record (source ``traccar``), or ``Rejected``."""
    if fix.lat is None or fix.lon is None:
        raise Rejected(f"missing field {'lat' if fix.lat is None else 'lon'!r}")
    try:
        pos = Position(
            engineer_id=engineer_id,
            ts=received_at if fix.ts is None else fix.ts,
            lat=fix.lat,
            lon=fix.lon,
            accuracy_m=fix.accuracy_m,
            speed_mps=fix.speed_mps,
            heading=None if fix.heading is None else fix.heading % 360.0,
            battery=fix.battery,
            source=Source.TRACCAR,
            received_at=received_at,
        )
    except ValidationError as exc:
        raise Rejected(describe(exc)) from None
    return Outgoing(TOPIC_POSITIONS, pos.engineer_id, encode(pos), pos.ts)
