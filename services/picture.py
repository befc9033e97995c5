"""The live dispatch picture, loaded from PostgreSQL as ``dispatch.types``.

Engineers (skills, shift, home base, last position, van stock, online) with the open
orders they hold as their route: frozen (en_route/on_site...) stops first, then in the
order they were assigned. Work-order rows become :class:`dispatch.types.Visit` with times
in seconds of the planning day (UTC).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import time
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from dispatch.types import FROZEN_STATUSES, Engineer, Visit
from models.workorder import Priority, Status

DAY_MS = 86_400_000
ROUTE_STATUSES = (Status.ASSIGNED, Status.ACCEPTED, *FROZEN_STATUSES)


def _secs(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _day_s(ts: Any, day_start_ms: int) -> int | None:
    return None if ts is None else int(ts.timestamp() * 1000 - day_start_ms) // 1000


def visit_of(row: Mapping[str, Any], day_start_ms: int) -> Visit:
    """A work-order row (``_ORDER_SQL``) as a dispatch visit."""
    return Visit(
        id=row["id"],
        lat=row["lat"],
        lon=row["lon"],
        skills=frozenset(row["required_skills"] or ()),
        parts={k: int(v) for k, v in (row["required_parts"] or {}).items()},
        service_s=int(row["service_minutes"] or 45) * 60,
        priority=Priority(row["priority"]),
        sla_due_s=_day_s(row["sla_due"], day_start_ms),
        status=Status(row["status"]),
        engineer_id=row["engineer_id"],
        frozen=Status(row["status"]) in FROZEN_STATUSES,
    )


_ORDER_SQL = """
    SELECT o.id, o.status, o.priority, o.required_skills, o.required_parts, o.sla_due,
           o.engineer_id, o.created_at, o.updated_at, o.title, o.site_id, s.lat, s.lon,
           coalesce(m.service_minutes, 45) AS service_minutes
    FROM work_orders o JOIN sites s ON s.id = o.site_id
    LEFT JOIN assets a ON a.id = o.asset_id LEFT JOIN asset_models m ON m.id = a.model_id
"""


async def fetch_rows(
    conn: AsyncConnection[Any], sql: str, params: Any = ()
) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


async def order_rows(conn: AsyncConnection[Any], ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Orders by id, with their site's position (orders without a site are left out)."""
    rows = await fetch_rows(conn, _ORDER_SQL + " WHERE o.id = ANY(%s)", (list(ids),))
    return {r["id"]: r for r in rows}


async def load_engineers(
    conn: AsyncConnection[Any], day_start_ms: int, *, only: Sequence[str] | None = None
) -> tuple[list[Engineer], dict[str, Visit]]:
    """Engineers with a known place (home or last fix) and the orders on their routes:
    frozen stops first, then in the order they were assigned."""
    where, params = ("WHERE e.id = ANY(%s)", [list(only)]) if only is not None else ("", [])
    rows = await fetch_rows(
        conn,
        f"""
        SELECT e.*, p.lat AS pos_lat, p.lon AS pos_lon,
               coalesce((SELECT jsonb_object_agg(part_id, qty) FROM van_stock v
                         WHERE v.engineer_id = e.id), '{{}}') AS stock
        FROM engineers e LEFT JOIN engineer_last_position p ON p.engineer_id = e.id {where}
        """,  # noqa: S608 - fixed fragments only
        params,
    )
    open_rows = await fetch_rows(
        conn,
        _ORDER_SQL + " WHERE o.engineer_id IS NOT NULL AND o.status = ANY(%s)"
        + (" AND o.engineer_id = ANY(%s)" if only is not None else "")
        + " ORDER BY o.engineer_id, o.assigned_at NULLS LAST, o.id",
        [[s.value for s in ROUTE_STATUSES], *params],
    )
    visits = {r["id"]: visit_of(r, day_start_ms) for r in open_rows}
    routes: dict[str, list[str]] = {}
    for r in open_rows:
        routes.setdefault(r["engineer_id"], []).append(r["id"])
    engineers = []
    for r in rows:
        home = (r["home_lat"], r["home_lon"]) if r["home_lat"] is not None else None
        pos = (r["pos_lat"], r["pos_lon"]) if r["pos_lat"] is not None else None
        if home is None and pos is None:
            continue
        start, end = _secs(r["shift_start"]), _secs(r["shift_end"])
        # Frozen stops go first, in the order they were taken on.
        route = sorted(routes.get(r["id"], []), key=lambda i: not visits[i].frozen)
        engineers.append(
            Engineer(
                id=r["id"],
                skills=frozenset(r["skills"] or ()),
                shift_start_s=start,
                shift_end_s=end if end > start else end + 86_400,
                home=home or pos,  # type: ignore[arg-type]
                position=pos,
                van_stock={k: int(v) for k, v in r["stock"].items()},
                route=tuple(route),
                online=r["status"] == "online",
            )
        )
    return engineers, visits


@dataclass(frozen=True)
class Picture:
    """The live dispatch picture at ``now_ms`` (times are seconds of that UTC day)."""

    now_ms: int
    engineers: tuple[Engineer, ...]
    visits: Mapping[str, Visit]

    @property
    def day_start_ms(self) -> int:
        return self.now_ms - self.now_ms % DAY_MS

    @property
    def now_s(self) -> int:
        return (self.now_ms - self.day_start_ms) // 1000


async def load_picture(conn: AsyncConnection[Any], now_ms: int) -> Picture:
    engineers, visits = await load_engineers(conn, now_ms - now_ms % DAY_MS)
    return Picture(now_ms, tuple(engineers), visits)


async def rejected_by_many(
    conn: AsyncConnection[Any], ids: Sequence[str]
) -> dict[str, frozenset[str]]:
    """Engineers who rejected each order (a pre-emption is not a rejection)."""
    rows = await fetch_rows(
        conn,
        "SELECT work_order_id, array_agg(DISTINCT details->>'engineer_id') AS engineers"
        " FROM work_order_events WHERE work_order_id = ANY(%s) AND to_status = 'rejected'"
        " AND details->>'engineer_id' IS NOT NULL AND details->>'preempted_by' IS NULL"
        " GROUP BY work_order_id",
        (list(ids),),
    )
    return {r["work_order_id"]: frozenset(r["engineers"]) for r in rows}


async def rejected_by(conn: AsyncConnection[Any], work_order_id: str) -> frozenset[str]:
    """Engineers who rejected ``work_order_id``."""
    return (await rejected_by_many(conn, [work_order_id])).get(work_order_id, frozenset())
