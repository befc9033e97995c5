"""The live dispatch picture, loaded from PostgreSQL as ``dispatch.types``.

Engineers (skills, shift, lunch break, home base, last position, van stock, online) with
the open orders they hold as their route: frozen (en_route/on_site...) stops first, then
in the stored route order (``route_seq``, written when dispatch assigns an order), then in
the order they were assigned. A depot pickup booked for an order (its parts reserved, not
yet collected) is a stop ``pickup:<order id>`` right before that order on the route of the
live picture and of ``GET /engineers/{id}/route`` (the day planner leaves pickups out).
Depots with their stock less what pickups reserve. Work-order rows become
:class:`dispatch.types.Visit` with times in seconds of the planning day (UTC).

Appointment windows are clamped to the planning day (an unset end is the whole day, as
before windows existed), so ``0 <= window_start_s <= window_end_s <= DAY_S`` always holds
(OR-Tools fails on an empty window). A window that misses the day shrinks to the day's
edge, where nobody can meet it: ``(0, 0)`` when it has passed, ``(DAY_S, DAY_S)`` when it
is on a later day (:func:`later_day`). An open order held for a later day is not part of
that engineer's route today (it would count tomorrow's appointment as today's work); it
is on their route on its own day, and a plan for that day sees it. An order already under
way (frozen) is not held back by a window on a later day.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from typing import Any

from psycopg import AsyncConnection

from dispatch.types import (
    DAY_S,
    FROZEN_STATUSES,
    PICKUP,
    PICKUP_S,
    Depot,
    Engineer,
    LunchBreak,
    Visit,
)
from models.workorder import Priority, Status
from store.sql import fetch_all

DAY_MS = 86_400_000
ROUTE_STATUSES = (Status.ASSIGNED, Status.ACCEPTED, *FROZEN_STATUSES)
_FROZEN = "{" + ",".join(sorted(s.value for s in FROZEN_STATUSES)) + "}"
# An engineer's route order (work_orders as ``o``): frozen stops first, then the stored
# sequence, then as assigned.
ROUTE_ORDER = (f"o.status = ANY('{_FROZEN}') DESC, o.route_seq NULLS LAST,"
               " o.assigned_at NULLS LAST, o.id")
_ROUTE_SQL = ("SELECT o.id FROM work_orders o WHERE o.engineer_id = %s"  # noqa: S608  # nosec B608 - fixed
              f" AND o.status = ANY(%s) ORDER BY {ROUTE_ORDER}")


def _secs(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _day_s(ts: Any, day_start_ms: int) -> int | None:
    return None if ts is None else int(ts.timestamp() * 1000 - day_start_ms) // 1000


def window_of(start: datetime | None, end: datetime | None,
              day_start_ms: int) -> tuple[int, int]:
    """An appointment window as seconds of the planning day, rounded inwards and clamped
    to the day (unset ends: the whole day): ``0 <= start <= end <= DAY_S``."""
    lo = 0 if start is None else -((day_start_ms - round(start.timestamp() * 1000)) // 1000)
    hi = DAY_S if end is None else _day_s(end, day_start_ms) or 0
    lo = min(max(lo, 0), DAY_S)
    return lo, max(lo, min(max(hi, 0), DAY_S))


def later_day(v: Visit) -> bool:
    """The visit's appointment window starts after its planning day (see window_of)."""
    return v.window_start_s >= DAY_S


def shift_of(start: time, end: time, now_s: int | None = None) -> tuple[int, int]:
    """A shift in seconds of the day: an end at or before the start is the next day's.
    At ``now_s`` (seconds of today) before such an end, the shift that runs now is the
    one that began yesterday: its start is negative."""
    lo, hi = _secs(start), _secs(end)
    if hi > lo:
        return lo, hi
    if now_s is not None and now_s < hi:
        return lo - DAY_S, hi
    return lo, hi + DAY_S


def lunch_of(earliest: time | None, latest: time | None, minutes: int | None,
             shift: tuple[int, int]) -> LunchBreak | None:
    """The lunch break in seconds of the day of a ``shift`` (start, end seconds): after
    midnight on a night shift (before it, yesterday's, for a shift begun yesterday); a
    latest before the earliest runs across midnight."""
    if earliest is None or latest is None or minutes is None:
        return None
    lo, hi = _secs(earliest), _secs(latest)
    if shift[1] > DAY_S and lo < shift[0]:  # a night shift's lunch after midnight
        lo, hi = lo + DAY_S, hi + DAY_S
    elif shift[0] < 0 and lo >= shift[1]:  # yesterday's shift's lunch before midnight
        lo, hi = lo - DAY_S, hi - DAY_S
    if hi < lo:
        hi += DAY_S
    return LunchBreak(lo, hi, minutes * 60)


def visit_of(row: Mapping[str, Any], day_start_ms: int) -> Visit:
    """A work-order row (``_ORDER_SQL``) as a dispatch visit."""
    frozen = Status(row["status"]) in FROZEN_STATUSES
    window = window_of(row.get("window_start"), row.get("window_end"), day_start_ms)
    if frozen and window[0] >= DAY_S:  # under way already: a later day's window is moot
        window = (0, DAY_S)
    return Visit(
        id=row["id"],
        lat=row["lat"],
        lon=row["lon"],
        skills=frozenset(row["required_skills"] or ()),
        parts={k: int(v) for k, v in (row["required_parts"] or {}).items()},
        window_start_s=window[0],
        window_end_s=window[1],
        service_s=int(row["service_minutes"] or 45) * 60,
        priority=Priority(row["priority"]),
        sla_due_s=_day_s(row["sla_due"], day_start_ms),
        status=Status(row["status"]),
        engineer_id=row["engineer_id"],
        frozen=frozen,
    )


_ORDER_SQL = """
    SELECT o.id, o.status, o.priority, o.required_skills, o.required_parts, o.sla_due,
           o.window_start, o.window_end, o.route_seq, o.engineer_id, o.created_at,
           o.updated_at, o.title, o.site_id, s.lat, s.lon,
           coalesce(m.service_minutes, 45) AS service_minutes,
           o.pickup_parts, dp.id AS pickup_depot, dp.lat AS pickup_lat, dp.lon AS pickup_lon
    FROM work_orders o JOIN sites s ON s.id = o.site_id
    LEFT JOIN assets a ON a.id = o.asset_id LEFT JOIN asset_models m ON m.id = a.model_id
    LEFT JOIN depots dp ON dp.id = o.pickup_depot_id AND o.pickup_parts IS NOT NULL
"""


def pickup_of(row: Mapping[str, Any], order: Visit) -> Visit | None:
    """The booked depot pickup before ``order`` (its row from ``_ORDER_SQL``), if any."""
    if row.get("pickup_lat") is None:
        return None
    return Visit(id=PICKUP + order.id, lat=row["pickup_lat"], lon=row["pickup_lon"],
                 service_s=PICKUP_S, priority=order.priority, status=order.status,
                 engineer_id=order.engineer_id, frozen=order.is_frozen)


async def order_rows(conn: AsyncConnection[Any], ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Orders by id, with their site's position (orders without a site are left out)."""
    rows = await fetch_all(conn, _ORDER_SQL + " WHERE o.id = ANY(%s)", (list(ids),))
    return {r["id"]: r for r in rows}


async def load_engineers(
    conn: AsyncConnection[Any], day_start_ms: int, *, only: Sequence[str] | None = None,
    pickups: bool = False, now_s: int | None = None,
) -> tuple[list[Engineer], dict[str, Visit]]:
    """Engineers with a known place (home or last fix) and the orders on their routes
    (``ROUTE_ORDER``; orders held for a later day are in the visits, not the routes).
    With ``pickups``, a booked depot pickup is a stop before its order. ``now_s`` (the
    day is today) keeps a night shift begun yesterday (``shift_of``)."""
    where, params = ("WHERE e.id = ANY(%s)", [list(only)]) if only is not None else ("", [])
    rows = await fetch_all(
        conn,
        f"""
        SELECT e.*, p.lat AS pos_lat, p.lon AS pos_lon,
               coalesce((SELECT jsonb_object_agg(part_id, qty) FROM van_stock v
                         WHERE v.engineer_id = e.id), '{{}}') AS stock
        FROM engineers e LEFT JOIN engineer_last_position p ON p.engineer_id = e.id {where}
        """,  # noqa: S608  # nosec B608 - fixed fragments only
        params,
    )
    open_rows = await fetch_all(
        conn,
        _ORDER_SQL + " WHERE o.engineer_id IS NOT NULL AND o.status = ANY(%s)"
        + (" AND o.engineer_id = ANY(%s)" if only is not None else "")
        + f" ORDER BY o.engineer_id, {ROUTE_ORDER}",
        [[s.value for s in ROUTE_STATUSES], *params],
    )
    visits = {r["id"]: visit_of(r, day_start_ms) for r in open_rows}
    routes: dict[str, list[str]] = {}
    for r in open_rows:
        v = visits[r["id"]]
        if later_day(v):
            continue
        route = routes.setdefault(r["engineer_id"], [])
        if pickups and (pickup := pickup_of(r, v)) is not None:
            visits[pickup.id] = pickup
            route.append(pickup.id)
        route.append(r["id"])
    engineers = []
    for r in rows:
        home = (r["home_lat"], r["home_lon"]) if r["home_lat"] is not None else None
        pos = (r["pos_lat"], r["pos_lon"]) if r["pos_lat"] is not None else None
        if home is None and pos is None:
            continue
        shift = shift_of(r["shift_start"], r["shift_end"], now_s)
        engineers.append(
            Engineer(
                id=r["id"],
                skills=frozenset(r["skills"] or ()),
                shift_start_s=shift[0],
                shift_end_s=shift[1],
                home=home or pos,  # type: ignore[arg-type]
                position=pos,
                van_stock={k: int(v) for k, v in r["stock"].items()},
                lunch=lunch_of(r["lunch_earliest"], r["lunch_latest"], r["lunch_minutes"],
                               shift),
                route=tuple(routes.get(r["id"], ())),
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
    depots: tuple[Depot, ...] = ()
    # order id -> (depot id, parts) of each booked pickup (counted out of ``depots``)
    pickups: Mapping[str, tuple[str, Mapping[str, int]]] = field(default_factory=dict)

    def depots_for(self, order_id: str) -> tuple[Depot, ...]:
        """The depots as re-dispatching ``order_id`` sees them: its own booking is free."""
        booked = self.pickups.get(order_id)
        if booked is None:
            return self.depots
        return tuple(replace(d, stock={p: d.stock.get(p, 0) + booked[1].get(p, 0)
                                       for p in {*d.stock, *booked[1]}})
                     if d.id == booked[0] else d for d in self.depots)

    @property
    def day_start_ms(self) -> int:
        return self.now_ms - self.now_ms % DAY_MS

    @property
    def now_s(self) -> int:
        return (self.now_ms - self.day_start_ms) // 1000


async def load_depots(
    conn: AsyncConnection[Any],
) -> tuple[tuple[Depot, ...], dict[str, tuple[str, Mapping[str, int]]]]:
    """Every depot with the parts it has in stock and not reserved by a booked pickup;
    and the booked pickups by order."""
    rows = await fetch_all(
        conn,
        "SELECT d.id, d.lat, d.lon, coalesce((SELECT jsonb_object_agg(s.part_id, s.qty"
        " - coalesce(r.qty, 0)) FROM depot_stock s LEFT JOIN depot_reserved r"
        " ON r.depot_id = s.depot_id AND r.part_id = s.part_id"
        " WHERE s.depot_id = d.id AND s.qty > coalesce(r.qty, 0)), '{}') AS stock"
        " FROM depots d ORDER BY d.id",
    )
    booked = await fetch_all(conn, "SELECT id, pickup_depot_id, pickup_parts FROM work_orders"
                              " WHERE pickup_parts IS NOT NULL")
    return (tuple(Depot(r["id"], r["lat"], r["lon"], {k: int(v) for k, v in r["stock"].items()})
                  for r in rows),
            {r["id"]: (r["pickup_depot_id"], {k: int(v) for k, v in r["pickup_parts"].items()})
             for r in booked})


async def load_picture(conn: AsyncConnection[Any], now_ms: int) -> Picture:
    engineers, visits = await load_engineers(conn, now_ms - now_ms % DAY_MS, pickups=True,
                                             now_s=now_ms % DAY_MS // 1000)
    depots, pickups = await load_depots(conn)
    return Picture(now_ms, tuple(engineers), visits, depots, pickups)


# --- the stored route order ---------------------------------------------------------


async def route_ids(conn: AsyncConnection[Any], engineer_id: str) -> list[str]:
    """The ids of ``engineer_id``'s open orders in route order (sites or not)."""
    rows = await fetch_all(conn, _ROUTE_SQL, (engineer_id, [s.value for s in ROUTE_STATUSES]))
    return [r["id"] for r in rows]


def sequenced(current: Sequence[str], ids: Sequence[str], *, first: bool) -> list[str]:
    """``current`` (an engineer's open orders in route order) with those of ``ids`` that
    are in it moved, in the order given, to the front (``first``) or to the end."""
    on = set(current)
    given = [i for i in dict.fromkeys(ids) if i in on]
    moved = set(given)
    rest = [i for i in current if i not in moved]
    return given + rest if first else rest + given


async def store_route(conn: AsyncConnection[Any], engineer_id: str, ids: Sequence[str], *,
                      first: bool = True) -> dict[str, int]:
    """Write ``route_seq`` (1, 2, ...) for every open order of ``engineer_id``: ``ids``
    (e.g. a dispatch candidate's route, or one order appended by hand) first or last,
    the others keeping their order. Ids that are not on the route are ignored. Returns
    the sequence number of each order on the route."""
    route = sequenced(await route_ids(conn, engineer_id), ids, first=first)
    await conn.execute(
        "UPDATE work_orders o SET route_seq = r.seq"
        " FROM unnest(%s::text[]) WITH ORDINALITY AS r(id, seq)"
        " WHERE o.id = r.id AND o.route_seq IS DISTINCT FROM r.seq",
        (route,),
    )
    return {oid: k for k, oid in enumerate(route, 1)}


async def rejected_by_many(
    conn: AsyncConnection[Any], ids: Sequence[str]
) -> dict[str, frozenset[str]]:
    """Engineers who rejected each order (a pre-emption is not a rejection)."""
    rows = await fetch_all(
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
