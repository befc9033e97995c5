"""Depots: parts stores an engineer can detour through for parts their van lacks, and the
stock each holds (auto-dispatch uses both; see docs/dispatch.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel

from api.auth import Staff, StaffOrEngineer
from api.deps import ConnDep, found
from api.listing import Page, PagingDep
from api.schemas import Body, Lat, Lon, Name
from api.stock import DepotStockLine, StockIn
from models.messages import ID_PATTERN
from services import stock
from store import depots
from store.stock import lines as stock_lines

router = APIRouter(prefix="/api/v1/depots", tags=["depots"])

DepotId = Annotated[str, Path(pattern=ID_PATTERN)]


class DepotIn(Body):
    name: Name
    lat: Lat
    lon: Lon


class DepotOut(BaseModel):
    id: str
    name: str
    lat: float
    lon: float


@router.get("", response_model=Page[DepotOut])
async def list_depots(conn: ConnDep, _p: StaffOrEngineer, page: PagingDep) -> dict[str, Any]:
    return await depots.page(conn, page)


async def _depot(conn: ConnDep, depot_id: str) -> dict[str, Any]:
    return found(await depots.get(conn, depot_id), "depot", depot_id)


@router.get("/{depot_id}", response_model=DepotOut)
async def get_depot(depot_id: str, conn: ConnDep, _p: StaffOrEngineer) -> dict[str, Any]:
    return await _depot(conn, depot_id)


@router.put("/{depot_id}", response_model=DepotOut)
async def put_depot(depot_id: DepotId, body: DepotIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    """Create the depot, or replace its name and position."""
    return await stock.put_depot(conn, p, depot_id, body.model_dump())


@router.get("/{depot_id}/stock", response_model=list[DepotStockLine])
async def get_depot_stock(
    depot_id: str, conn: ConnDep, _p: StaffOrEngineer
) -> list[dict[str, Any]]:
    await _depot(conn, depot_id)
    return await stock_lines(conn, "depot_stock", depot_id)


@router.put("/{depot_id}/stock/{part_id}", response_model=list[DepotStockLine])
async def set_depot_stock(
    depot_id: str, part_id: str, body: StockIn, conn: ConnDep, p: Staff
) -> list[dict[str, Any]]:
    """Restock (or count) one part at the depot (an unknown part: 422)."""
    await _depot(conn, depot_id)
    return await stock.set_stock(conn, p, "depot_stock", depot_id, part_id, body.qty)
