"""Engineers: skills, shift, lunch break, home base, status and last position."""

from __future__ import annotations

from datetime import time
from typing import Any

from store.listing import Paging, Where, fetch_page
from store.sql import Conn, fetch_one

# `activity` is what the engineer is doing now: the most advanced open order's status.
_SELECT = """
    SELECT * FROM (SELECT e.*, coalesce((
        SELECT o.status FROM work_orders o WHERE o.engineer_id = e.id
          AND o.status IN ('assigned', 'accepted', 'en_route', 'on_site', 'in_progress',
                           'waiting_parts')
        ORDER BY array_position(ARRAY['on_site', 'in_progress', 'waiting_parts', 'en_route',
                                      'accepted', 'assigned'], o.status) LIMIT 1),
        CASE WHEN e.status = 'online' THEN 'idle' ELSE 'offline' END) AS activity
    FROM engineers e) AS e
"""
Lunch = tuple[time | None, time | None, int | None]  # earliest, latest, minutes


async def page(
    conn: Conn,
    paging: Paging,
    *,
    status: str | None = None,
    activity: str | None = None,
    skill: str | None = None,
    only: str | None = None,
) -> dict[str, Any]:
    """Engineers with their ``activity``; ``only``: just this engineer (an engineer's view)."""
    where = Where().eq("status", status).eq("activity", activity)
    if skill:
        where.add("%s = ANY(skills)", skill)
    if only is not None:
        where.add("id = %s", only)
    return await fetch_page(conn, _SELECT, where, "id", paging)


async def get(conn: Conn, engineer_id: str) -> dict[str, Any] | None:
    """The engineer with their ``activity``."""
    return await fetch_one(conn, _SELECT + " WHERE id = %s", (engineer_id,))


async def insert(
    conn: Conn,
    *,
    id: str,
    name: str,
    skills: list[str],
    shift_start: time,
    shift_end: time,
    home_lat: float | None,
    home_lon: float | None,
    lunch_earliest: time | None,
    lunch_latest: time | None,
    lunch_minutes: int | None,
    tracker_id: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO engineers (id, name, skills, shift_start, shift_end, home_lat, home_lon,"
        " lunch_earliest, lunch_latest, lunch_minutes, tracker_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (id, name, skills, shift_start, shift_end, home_lat, home_lon, lunch_earliest,
         lunch_latest, lunch_minutes, tracker_id),
    )


async def update(
    conn: Conn,
    engineer_id: str,
    *,
    name: str | None = None,
    skills: list[str] | None = None,
    shift_start: time | None = None,
    shift_end: time | None = None,
    home_lat: float | None = None,
    home_lon: float | None = None,
    status: str | None = None,
    tracker_id: str | None = None,
    lunch: Lunch | None = None,
) -> bool:
    """Set the fields given (None: keep; ``lunch``: set all three, (None, None, None)
    removes the break); False when there is no such engineer."""
    sent = lunch is not None
    cur = await conn.execute(
        "UPDATE engineers SET name = coalesce(%s, name), skills = coalesce(%s, skills),"
        " shift_start = coalesce(%s, shift_start), shift_end = coalesce(%s, shift_end),"
        " home_lat = coalesce(%s, home_lat), home_lon = coalesce(%s, home_lon),"
        " status = coalesce(%s, status), tracker_id = coalesce(%s, tracker_id),"
        " lunch_earliest = CASE WHEN %s THEN %s::time ELSE lunch_earliest END,"
        " lunch_latest = CASE WHEN %s THEN %s::time ELSE lunch_latest END,"
        " lunch_minutes = CASE WHEN %s THEN %s::integer ELSE lunch_minutes END"
        " WHERE id = %s",
        (
            name,
            skills,
            shift_start,
            shift_end,
            home_lat,
            home_lon,
            status,
            tracker_id,
            *(x for value in (lunch or (None, None, None)) for x in (sent, value)),
            engineer_id,
        ),
    )
    return cur.rowcount > 0


async def last_position(conn: Conn, engineer_id: str) -> dict[str, Any] | None:
    return await fetch_one(
        conn, "SELECT * FROM engineer_last_position WHERE engineer_id = %s", (engineer_id,)
    )
