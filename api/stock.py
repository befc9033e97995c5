"""Parts stock lines as the API shows them, and the restock request (queries:
``store.stock``; the restock use case: ``services.stock``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.schemas import Body


class StockLine(BaseModel):
    part_id: str
    name: str
    qty: int
    low_stock_threshold: int
    low: bool


class DepotStockLine(StockLine):
    reserved: int = Field(description="units booked for pickups (see docs/dispatch.md)")


class StockIn(Body):
    qty: int = Field(ge=0, le=1_000_000)
