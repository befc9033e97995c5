"""Customers: SLA tier and contacts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import Staff
from api.deps import ConnDep, found
from api.listing import Page, PagingDep
from api.schemas import Body, Ident, Name, Text
from services import catalog
from store import customers

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
Tier = Literal["platinum", "gold", "silver", "bronze"]


class Contact(Body):
    name: Name
    email: Text | None = None
    phone: Text | None = None
    role: Text | None = None


class CustomerIn(Body):
    id: Ident
    name: Name
    sla_tier: Tier = "silver"
    contacts: list[Contact] = Field(default_factory=list, max_length=50)


class CustomerPatch(Body):
    name: Name | None = None
    sla_tier: Tier | None = None
    contacts: list[Contact] | None = Field(default=None, max_length=50)


class CustomerOut(BaseModel):
    id: str
    name: str
    sla_tier: str
    contacts: list[dict[str, Any]]
    created_at: datetime


@router.get("", response_model=Page[CustomerOut])
async def list_customers(
    conn: ConnDep,
    _p: Staff,
    page: PagingDep,
    sla_tier: Tier | None = None,
    q: Annotated[Text | None, Query(description="name contains")] = None,
) -> dict[str, Any]:
    return await customers.page(conn, page, sla_tier=sla_tier, q=q)


@router.post("", response_model=CustomerOut, status_code=201)
async def create_customer(body: CustomerIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    return await catalog.create_customer(conn, p, body.model_dump())


@router.get("/{customer_id}", response_model=CustomerOut)
async def get_customer(customer_id: str, conn: ConnDep, _p: Staff) -> dict[str, Any]:
    return found(await customers.get(conn, customer_id), "customer", customer_id)


@router.patch("/{customer_id}", response_model=CustomerOut)
async def update_customer(
    customer_id: str, body: CustomerPatch, conn: ConnDep, p: Staff
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    row = await catalog.update_customer(conn, p, customer_id, changes)
    return found(row, "customer", customer_id)
