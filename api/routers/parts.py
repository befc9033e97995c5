"""Parts catalogue (van stock lives under engineers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import Staff, StaffOrEngineer
from api.deps import ConnDep, audit, fetch_by_id, fetch_one, found
from api.listing import Page, PagingDep, Where, fetch_page
from api.schemas import Body, Ident, Name

router = APIRouter(prefix="/api/v1/parts", tags=["parts"])


class PartIn(Body):
    id: Ident
    name: Name
    unit_cost: Decimal = Field(default=Decimal(0), ge=0, le=Decimal("9999999999"), decimal_places=2)
    low_stock_threshold: int = Field(default=1, ge=0, le=1_000_000)


class PartPatch(Body):
    name: Name | None = None
    unit_cost: Decimal | None = Field(
        default=None, ge=0, le=Decimal("9999999999"), decimal_places=2
    )
    low_stock_threshold: int | None = Field(default=None, ge=0, le=1_000_000)


class PartOut(BaseModel):
    id: str
    name: str
    unit_cost: float
    low_stock_threshold: int


@router.get("", response_model=Page[PartOut])
async def list_parts(conn: ConnDep, _p: StaffOrEngineer, page: PagingDep) -> dict[str, Any]:
    return await fetch_page(conn, "SELECT * FROM parts", Where(), "id", page)


@router.post("", response_model=PartOut, status_code=201)
async def create_part(body: PartIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "INSERT INTO parts (id, name, unit_cost, low_stock_threshold) VALUES (%s, %s, %s, %s)"
            " RETURNING *",
            (body.id, body.name, body.unit_cost, body.low_stock_threshold),
        )
        await audit(conn, p, "create", "part", body.id, body.model_dump(mode="json"))
    assert row is not None
    return row


@router.get("/{part_id}", response_model=PartOut)
async def get_part(part_id: str, conn: ConnDep, _p: StaffOrEngineer) -> dict[str, Any]:
    return await fetch_by_id(conn, "parts", part_id, "part")


@router.patch("/{part_id}", response_model=PartOut)
async def update_part(part_id: str, body: PartPatch, conn: ConnDep, p: Staff) -> dict[str, Any]:
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "UPDATE parts SET name = coalesce(%s, name), unit_cost = coalesce(%s, unit_cost),"
            " low_stock_threshold = coalesce(%s, low_stock_threshold) WHERE id = %s RETURNING *",
            (body.name, body.unit_cost, body.low_stock_threshold, part_id),
        )
        row = found(row, "part", part_id)
        changes = body.model_dump(exclude_none=True, mode="json")
        await audit(conn, p, "update", "part", part_id, changes)
    return row
