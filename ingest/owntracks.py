"""OwnTracks adapter: the engineers' phone app (https://owntracks.org/booklet/).

Topics: ``owntracks/{user}/{device}`` and ``owntracks/{user}/{device}/{leaf}``.

What each ``_type`` becomes (an operator must be able to see every message land):

- ``location`` -> a ``Position`` (source ``owntracks``) on ``telemetry.positions``:
  ``tst`` (epoch s) -> ts, ``acc`` -> accuracy_m, ``vel`` (km/h) -> speed_mps,
  ``cog`` -> heading, ``batt`` -> battery. ``alt``, ``tid`` and the rest have no place
  in the Position schema and are not carried.
- ``transition`` (region enter/leave, on ``.../event``) -> the position fix it carries
  (lat, lon, tst, acc), also on ``telemetry.positions``. The region names are the
  phone's own; FieldFlow computes check-ins itself from positions (``events.geofence``),
  so the transition is used only as one more fix. Without lat/lon it is dead-lettered.
- everything else (``lwt``, ``waypoint(s)``, ``steps``, ``status``, ``cmd``, ``card``,
  ``beacon``, ``configuration``, ``encrypted``, ...) is not telemetry: it goes to the
  dead-letter topic with reason ``unsupported OwnTracks _type ...`` (kind
  ``unsupported``), so nothing disappears silently and a dashboard can filter it.

Negative ``acc``/``vel``/``cog``/``batt`` are the platforms' "unknown" sentinels
(iOS reports -1) and become None rather than losing the whole fix. Numeric strings
are accepted (the booklet's own examples contain them).

``user/device`` maps to an engineer id through ``OwnTracksDirectory`` (from settings
``owntracks_devices``); unknown pairs are dead-lettered as ``unknown OwnTracks device``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ingest.routing import TOPIC_POSITIONS, Outgoing, Rejected, RejectKind
from ingest.validation import ID_RE, json_object, number, require
from models.codec import describe, encode
from models.messages import Position, Source

ROOT = "owntracks"
KMH_TO_MPS = 1 / 3.6
_TELEMETRY_TYPES = ("location", "transition")


class OwnTracksDirectory:
    """Maps an OwnTracks ``user/device`` pair to a FieldFlow engineer id.

    Built by the caller from settings (``owntracks_devices``); a bad entry is a
    configuration error and raises ``ValueError`` at construction, not per message.
    """

    def __init__(self, mapping: Mapping[str, str] | None = None) -> None:
        self._map: dict[str, str] = {}
        for key, engineer in (mapping or {}).items():
            user, sep, device = key.partition("/")
            if not sep or not user or not device or "/" in device:
                raise ValueError(f"OwnTracks key {key!r} must be 'user/device'")
            if not ID_RE.fullmatch(engineer):
                raise ValueError(f"engineer id {engineer!r} for {key!r} is not a valid id")
            self._map[key] = engineer

    def lookup(self, user: str, device: str) -> str | None:
        return self._map.get(f"{user}/{device}")

    def __len__(self) -> int:
        return len(self._map)


def parse_topic(topic: str) -> tuple[str, str, str | None] | None:
    """``owntracks/u/d[/leaf]`` -> (user, device, leaf); None for other topics."""
    parts = topic.split("/")
    if parts[0] != ROOT or len(parts) not in (3, 4) or not all(parts[1:]):
        return None
    return parts[1], parts[2], parts[3] if len(parts) == 4 else None


def parse(
    topic: str, payload: bytes, received_at: int, directory: OwnTracksDirectory
) -> Outgoing:
    """One OwnTracks message -> one Position record; ``Rejected`` otherwise."""
    parsed = parse_topic(topic)
    if parsed is None:
        raise Rejected(f"not an OwnTracks topic {topic[:200]!r}", RejectKind.NO_ROUTE)
    user, device, _leaf = parsed
    data = json_object(payload)
    kind = data.get("_type")
    if kind not in _TELEMETRY_TYPES:
        shown = repr(kind)[:40]
        raise Rejected(
            f"unsupported OwnTracks _type {shown}: not telemetry (only location and "
            "transition are ingested)",
            RejectKind.UNSUPPORTED,
        )
    engineer_id = directory.lookup(user, device)
    if engineer_id is None:
        raise Rejected(
            f"unknown OwnTracks device {user[:64]!r}/{device[:64]!r}: add it to "
            "owntracks_devices",
            RejectKind.UNKNOWN_DEVICE,
        )
    require(data, "lat", "lon", "tst")
    if kind == "transition" and data.get("event") not in ("enter", "leave"):
        raise Rejected("transition: event must be 'enter' or 'leave'")
    position = _position(engineer_id, data, received_at)
    return Outgoing(TOPIC_POSITIONS, engineer_id, encode(position), position.ts)


def _optional(data: dict[str, Any], key: str) -> float | None:
    """An optional non-negative number; negative means "unknown" on the phones."""
    value = number(data, key, allow_str=True)
    return None if value is None or value < 0 else float(value)


def _position(engineer_id: str, data: dict[str, Any], received_at: int) -> Position:
    tst = number(data, "tst", allow_str=True)
    vel = _optional(data, "vel")
    cog = _optional(data, "cog")
    try:
        return Position(
            engineer_id=engineer_id,
            ts=tst,
            lat=number(data, "lat", allow_str=True),
            lon=number(data, "lon", allow_str=True),
            accuracy_m=_optional(data, "acc"),
            speed_mps=None if vel is None else round(vel * KMH_TO_MPS, 3),
            heading=None if cog is None else cog % 360.0,
            battery=_optional(data, "batt"),
            source=Source.OWNTRACKS,
            received_at=received_at,
        )
    except ValidationError as exc:
        raise Rejected(describe(exc)) from None
