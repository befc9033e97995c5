"""Use case: an engineer's track of a time range, simplified, with geofence events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from models.track import simplify
from models.workorder import DomainError
from store import tracks as q

MAX_FIXES = 100_000  # a phone at 1 Hz for a day is 86,400


class UnknownEngineerTrack(DomainError):
    status_code = 404


@dataclass(frozen=True)
class Track:
    engineer_id: str
    start: datetime
    end: datetime
    tolerance_m: float
    fixes: int  # stored fixes in the range (before simplification)
    truncated: bool  # more than MAX_FIXES: the earliest MAX_FIXES were used
    points: list[dict[str, Any]]
    geofence: list[dict[str, Any]]


async def engineer_track(
    conn: AsyncConnection[Any],
    engineer_id: str,
    *,
    start: datetime,
    end: datetime,
    tolerance_m: float,
) -> Track:
    """The fixes of ``[start, end]`` simplified to ``tolerance_m`` (Douglas-Peucker, the
    first and last fix always kept) and the geofence enters and exits of the range."""
    if not await q.engineer_exists(conn, engineer_id):
        raise UnknownEngineerTrack(f"engineer {engineer_id!r} not found")
    rows = await q.fixes(conn, engineer_id, start, end, MAX_FIXES + 1)
    truncated = len(rows) > MAX_FIXES
    rows = rows[:MAX_FIXES]
    kept = simplify([(r["lat"], r["lon"]) for r in rows], tolerance_m)
    events = await q.geofence_events(conn, engineer_id, start, end)
    return Track(engineer_id=engineer_id, start=start, end=end, tolerance_m=tolerance_m,
                 fixes=len(rows), truncated=truncated, points=[rows[i] for i in kept],
                 geofence=events)
