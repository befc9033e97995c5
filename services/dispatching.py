"""Auto-dispatch use-case: rank engineers for an order (dispatch/) and assign the best.

Shared by the streams (every new order) and the API (``POST /work-orders/{id}/assign``
without an engineer). Loads the live picture from PostgreSQL, converts it to
``dispatch.types`` and transitions the order to ``assigned``.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from dispatch.assign import rank_candidates
from dispatch.types import FROZEN_STATUSES, Candidate, Engineer, Visit
from models.travel import TravelModel, TravelTimes
from models.workorder import Priority, Status
from services.publisher import Publisher
from services.workorders import get_order, transition_order

DAY_MS = 86_400_000
ROUTE_STATUSES = (Status.ASSIGNED, Status.ACCEPTED, *FROZEN_STATUSES)


def _secs(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _day_s(ts: Any, day_start_ms: int) -> int | None:
    return None if ts is None else int(ts.timestamp() * 1000 - day_start_ms) // 1000


def _visit(row: dict[str, Any], day_start_ms: int) -> Visit:
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
           o.engineer_id, o.updated_at, s.lat, s.lon,
           coalesce(m.service_minutes, 45) AS service_minutes
    FROM work_orders o JOIN sites s ON s.id = o.site_id
    LEFT JOIN assets a ON a.id = o.asset_id LEFT JOIN asset_models m ON m.id = a.model_id
"""


async def load_engineers(
    conn: AsyncConnection[Any], day_start_ms: int
) -> tuple[list[Engineer], dict[str, Visit]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            """
            SELECT e.*, p.lat AS pos_lat, p.lon AS pos_lon,
                   coalesce((SELECT jsonb_object_agg(part_id, qty) FROM van_stock v
                             WHERE v.engineer_id = e.id), '{}') AS stock
            FROM engineers e LEFT JOIN engineer_last_position p ON p.engineer_id = e.id
            """
        )
        rows = await cur.fetchall()
        await cur.execute(
            _ORDER_SQL + " WHERE o.engineer_id IS NOT NULL AND o.status = ANY(%s)"
            " ORDER BY o.engineer_id, o.assigned_at NULLS LAST",
            ([s.value for s in ROUTE_STATUSES],),
        )
        open_rows = await cur.fetchall()
    visits = {r["id"]: _visit(r, day_start_ms) for r in open_rows}
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


async def rank_for_order(
    work_order_id: str,
    *,
    conn: AsyncConnection[Any],
    now_ms: int,
    travel: TravelTimes | None = None,
    exclude: frozenset[str] = frozenset(),
) -> list[Candidate]:
    day_start = now_ms - now_ms % DAY_MS
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_ORDER_SQL + " WHERE o.id = %s", (work_order_id,))
        row = await cur.fetchone()
    if row is None:
        return []
    engineers, visits = await load_engineers(conn, day_start)
    engineers = [e for e in engineers if e.id not in exclude]
    return rank_candidates(
        _visit(row, day_start),
        engineers,
        visits,
        travel or TravelModel(),
        now_s=(now_ms - day_start) // 1000,
    )


async def auto_assign(
    work_order_id: str,
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    now_ms: int,
    actor: str,
    travel: TravelTimes | None = None,
    exclude: frozenset[str] = frozenset(),
    event_key: str | None = None, why: str = "auto-dispatch",
) -> Candidate | None:
    """Assign the best-ranked engineer; None (order stays as it is) when nobody fits."""
    candidates = await rank_for_order(
        work_order_id, conn=conn, now_ms=now_ms, travel=travel, exclude=exclude
    )
    if not candidates:
        return None
    best = candidates[0]
    order = await get_order(conn, work_order_id)
    await transition_order(
        work_order_id,
        Status.ASSIGNED,
        conn=conn,
        publisher=publisher,
        actor=actor,
        engineer_id=best.engineer_id,
        ts_ms=now_ms,
        event_key=event_key,
        reason=f"{why}: " + "; ".join(best.reasons),
        details={
            "score": round(best.score, 1),
            "eta_s": best.eta_s,
            "previous_engineer": order["engineer_id"],
        },
    )
    return best
