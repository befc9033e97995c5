"""Engineers: skills, shift, lunch break, home base, status, van stock and live position."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, model_validator

from api.auth import CurrentPrincipal, Staff, StaffOrEngineer, ensure_engineer_access
from api.deps import ConnDep, found
from api.listing import Page, PagingDep
from api.schemas import Body, Ident, Lat, Lon, Name, Skill
from api.stock import StockIn, StockLine
from services import engineers as engineer_cases
from services import stock
from services.engineers import LUNCH
from store import engineers
from store.stock import lines as stock_lines

router = APIRouter(prefix="/api/v1/engineers", tags=["engineers"])

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
    only = None if p.is_staff else (p.engineer_id or "")  # an engineer lists only themself
    return await engineers.page(
        conn, page, status=status, activity=activity, skill=skill, only=only
    )


@router.post("", response_model=EngineerOut, status_code=201)
async def create_engineer(body: EngineerIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    return await engineer_cases.create_engineer(conn, p, body.model_dump())


async def _engineer(conn: ConnDep, engineer_id: str) -> dict[str, Any]:
    return found(await engineers.get(conn, engineer_id), "engineer", engineer_id)


@router.get("/{engineer_id}", response_model=EngineerOut)
async def get_engineer(engineer_id: str, conn: ConnDep, p: CurrentPrincipal) -> dict[str, Any]:
    ensure_engineer_access(p, engineer_id)
    return await _engineer(conn, engineer_id)


@router.patch("/{engineer_id}", response_model=EngineerOut)
async def update_engineer(
    engineer_id: str, body: EngineerPatch, conn: ConnDep, p: Staff
) -> dict[str, Any]:
    row = await engineer_cases.update_engineer(
        conn, p, engineer_id, body.model_dump(exclude_none=True, exclude=set(LUNCH)),
        lunch=body.lunch if body.lunch_sent else None,
    )
    return found(row, "engineer", engineer_id)


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
    return await stock.set_stock(conn, p, "van_stock", engineer_id, part_id, body.qty)


@router.get("/{engineer_id}/position", response_model=PositionOut)
async def get_position(engineer_id: str, conn: ConnDep, p: CurrentPrincipal) -> dict[str, Any]:
    ensure_engineer_access(p, engineer_id)
    row = await engineers.last_position(conn, engineer_id)
    if row is None:
        raise HTTPException(404, f"no position known for engineer {engineer_id!r}")
    return row
