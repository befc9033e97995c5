"""Engineers: skills, shift, lunch break, home base, status, van stock and live position."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, model_validator

from api.auth import CurrentPrincipal, Staff, StaffOrEngineer, ensure_engineer_access
from api.deps import ConnDep, audit, fetch_one, found
from api.listing import Page, PagingDep, Where, fetch_page
from api.schemas import Body, Ident, Lat, Lon, Name, Skill
from api.stock import StockIn, StockLine, set_stock, stock_lines

router = APIRouter(prefix="/api/v1/engineers", tags=["engineers"])

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


LUNCH = ("lunch_earliest", "lunch_latest", "lunch_minutes")
LUNCH_TOGETHER = "give lunch_earliest, lunch_latest and lunch_minutes together, or none of them"
LunchMinutes = Annotated[int, Field(ge=1, le=240)]


class LunchFields(Body):
    """A lunch break of ``lunch_minutes`` starting anywhere between ``lunch_earliest`` and
    ``lunch_latest`` (UTC times of the shift's day): all three, or none."""

    lunch_earliest: time | None = None
    lunch_latest: time | None = None
    lunch_minutes: LunchMinutes | None = None

    @property
    def lunch(self) -> tuple[time | None, time | None, int | None]:
        return self.lunch_earliest, self.lunch_latest, self.lunch_minutes

    @model_validator(mode="after")
    def _lunch_together(self) -> LunchFields:
        if len({v is None for v in self.lunch}) > 1:
            raise ValueError(LUNCH_TOGETHER)
        return self


class EngineerIn(LunchFields):
    id: Ident
    name: Name
    skills: list[Skill] = Field(default_factory=list, max_length=30)
    shift_start: time = time(8, 0)
    shift_end: time = time(17, 0)
    home_lat: Lat | None = None
    home_lon: Lon | None = None
    tracker_id: Ident | None = Field(
        default=None, description="the phone app's device identifier (Traccar Client 'id'),"
        " unique")


class EngineerPatch(LunchFields):
    """Fields left out (or null) stay as they are; the lunch break is set by sending all
    three lunch fields, and removed by sending all three as null."""

    name: Name | None = None
    skills: list[Skill] | None = Field(default=None, max_length=30)
    shift_start: time | None = None
    shift_end: time | None = None
    home_lat: Lat | None = None
    home_lon: Lon | None = None
    status: Literal["online", "offline"] | None = None
    tracker_id: Ident | None = Field(default=None, description="Traccar Client 'id'")

    @model_validator(mode="after")
    def _lunch_sent_together(self) -> EngineerPatch:
        if len({f in self.model_fields_set for f in LUNCH}) > 1:
            raise ValueError(LUNCH_TOGETHER)
        return self

    @property
    def lunch_sent(self) -> bool:
        return LUNCH[0] in self.model_fields_set


class EngineerOut(BaseModel):
    id: str
    name: str
    skills: list[str]
    shift_start: time
    shift_end: time
    home_lat: float | None
    home_lon: float | None
    lunch_earliest: time | None
    lunch_latest: time | None
    lunch_minutes: int | None
    status: str
    activity: str
    tracker_id: str | None = None
    last_seen: datetime | None
    created_at: datetime


class PositionOut(BaseModel):
    engineer_id: str
    ts: datetime
    lat: float
    lon: float
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading: float | None = None
    battery: float | None = None
    source: str
    received_at: datetime | None = None


@router.get("", response_model=Page[EngineerOut])
async def list_engineers(  # noqa: PLR0917
    conn: ConnDep,
    p: StaffOrEngineer,
    page: PagingDep,
    status: Literal["online", "offline"] | None = None,
    activity: str | None = None,
    skill: Skill | None = None,
) -> dict[str, Any]:
    where = Where().eq("status", status).eq("activity", activity)
    if skill:
        where.add("%s = ANY(skills)", skill)
    if not p.is_staff:  # an engineer lists only themself
        where.add("id = %s", p.engineer_id or "")
    return await fetch_page(conn, _SELECT, where, "id", page)


@router.post("", response_model=EngineerOut, status_code=201)
async def create_engineer(body: EngineerIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO engineers (id, name, skills, shift_start, shift_end, home_lat, home_lon,"
            " lunch_earliest, lunch_latest, lunch_minutes, tracker_id)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                body.id,
                body.name,
                body.skills,
                body.shift_start,
                body.shift_end,
                body.home_lat,
                body.home_lon,
                *body.lunch,
                body.tracker_id,
            ),
        )
        await audit(conn, p, "create", "engineer", body.id, body.model_dump(mode="json"))
    return await _engineer(conn, body.id)


async def _engineer(conn: ConnDep, engineer_id: str) -> dict[str, Any]:
    row = await fetch_one(conn, _SELECT + " WHERE id = %s", (engineer_id,))
    return found(row, "engineer", engineer_id)


@router.get("/{engineer_id}", response_model=EngineerOut)
async def get_engineer(engineer_id: str, conn: ConnDep, p: CurrentPrincipal) -> dict[str, Any]:
    ensure_engineer_access(p, engineer_id)
    return await _engineer(conn, engineer_id)


@router.patch("/{engineer_id}", response_model=EngineerOut)
async def update_engineer(
    engineer_id: str, body: EngineerPatch, conn: ConnDep, p: Staff
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True, mode="json")
    if body.lunch_sent:
        changes |= body.model_dump(include=set(LUNCH), mode="json")
    async with conn.transaction():
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
                body.name,
                body.skills,
                body.shift_start,
                body.shift_end,
                body.home_lat,
                body.home_lon,
                body.status,
                body.tracker_id,
                *(x for value in body.lunch for x in (body.lunch_sent, value)),
                engineer_id,
            ),
        )
        if cur.rowcount == 0:
            raise HTTPException(404, f"engineer {engineer_id!r} not found")
        await audit(conn, p, "update", "engineer", engineer_id, changes)
    return await _engineer(conn, engineer_id)


@router.get("/{engineer_id}/van-stock", response_model=list[StockLine])
async def get_van_stock(
    engineer_id: str, conn: ConnDep, p: CurrentPrincipal
) -> list[dict[str, Any]]:
    ensure_engineer_access(p, engineer_id)
    await _engineer(conn, engineer_id)
    return await stock_lines(conn, "van_stock", engineer_id)


@router.put("/{engineer_id}/van-stock/{part_id}", response_model=list[StockLine])
async def set_van_stock(
    engineer_id: str, part_id: str, body: StockIn, conn: ConnDep, p: Staff
) -> list[dict[str, Any]]:
    """Restock (or count) one part in the engineer's van."""
    return await set_stock(conn, p, "van_stock", engineer_id, part_id, body.qty)


@router.get("/{engineer_id}/position", response_model=PositionOut)
async def get_position(engineer_id: str, conn: ConnDep, p: CurrentPrincipal) -> dict[str, Any]:
    ensure_engineer_access(p, engineer_id)
    row = await fetch_one(
        conn, "SELECT * FROM engineer_last_position WHERE engineer_id = %s", (engineer_id,)
    )
    if row is None:
        raise HTTPException(404, f"no position known for engineer {engineer_id!r}")
    return row
