"""Customers: SLA tier and contacts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from api.auth import Staff
from api.deps import ConnDep, audit, fetch_by_id, fetch_one, found
from api.listing import Page, PagingDep, Where, fetch_page
from api.schemas import Body, Ident, Name, Text

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
    where = Where().eq("sla_tier", sla_tier)
    if q:
        where.add("name ILIKE %s", f"%{q}%")
    return await fetch_page(conn, "SELECT * FROM customers", where, "id", page)


@router.post("", response_model=CustomerOut, status_code=201)
async def create_customer(body: CustomerIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "INSERT INTO customers (id, name, sla_tier, contacts) VALUES (%s, %s, %s, %s)"
            " RETURNING *",
            (body.id, body.name, body.sla_tier, Jsonb([c.model_dump() for c in body.contacts])),
        )
        await audit(conn, p, "create", "customer", body.id, body.model_dump())
    assert row is not None
    return row


@router.get("/{customer_id}", response_model=CustomerOut)
async def get_customer(customer_id: str, conn: ConnDep, _p: Staff) -> dict[str, Any]:
    return await fetch_by_id(conn, "customers", customer_id, "customer")


@router.patch("/{customer_id}", response_model=CustomerOut)
async def update_customer(
    customer_id: str, body: CustomerPatch, conn: ConnDep, p: Staff
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "UPDATE customers SET name = coalesce(%s, name), sla_tier = coalesce(%s, sla_tier),"
            " contacts = coalesce(%s, contacts) WHERE id = %s RETURNING *",
            (
                body.name,
                body.sla_tier,
                Jsonb(changes["contacts"]) if body.contacts is not None else None,
                customer_id,
            ),
        )
        row = found(row, "customer", customer_id)
        await audit(conn, p, "update", "customer", customer_id, changes)
    return row
