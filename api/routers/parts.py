"""Parts catalogue (van stock lives under engineers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import Staff, StaffOrEngineer
from api.deps import ConnDep, found
from api.listing import Page, PagingDep
from api.schemas import Body, Ident, Name
from services import catalog
from store import parts

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
    return await parts.page(conn, page)


@router.post("", response_model=PartOut, status_code=201)
async def create_part(body: PartIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    return await catalog.create_part(conn, p, body.model_dump())


@router.get("/{part_id}", response_model=PartOut)
async def get_part(part_id: str, conn: ConnDep, _p: StaffOrEngineer) -> dict[str, Any]:
    return found(await parts.get(conn, part_id), "part", part_id)


@router.patch("/{part_id}", response_model=PartOut)
async def update_part(part_id: str, body: PartPatch, conn: ConnDep, p: Staff) -> dict[str, Any]:
    row = await catalog.update_part(conn, p, part_id, body.model_dump(exclude_none=True))
    return found(row, "part", part_id)
