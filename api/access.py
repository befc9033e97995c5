"""Who may see which work order (engineer: own; customer: its token's order or customer)."""

from __future__ import annotations

from typing import Any

from api.auth import Principal
from api.deps import Conn
from api.listing import Where
from services.workorders import NotFound, get_order


def scope_orders(principal: Principal, where: Where, *, alias: str = "") -> Where:
    """Restrict a work-order query to what ``principal`` may see."""
    col = f"{alias}." if alias else ""
    if principal.is_staff:
        return where
    if principal.role == "engineer":
        return where.add(f"{col}engineer_id = %s", principal.engineer_id or "")
    if principal.work_order_id:
        return where.add(f"{col}id = %s", principal.work_order_id)
    if principal.role == "customer" and principal.customer_id:
        return where.add(f"{col}customer_id = %s", principal.customer_id)
    return where.add("false")


def order_scope(principal: Principal) -> Where:
    """The work orders ``principal`` may see, as a filter to start a listing from."""
    return scope_orders(principal, Where())


def may_see(principal: Principal, order: dict[str, Any]) -> bool:
    if principal.is_staff:
        return True
    if principal.role == "engineer":
        return principal.engineer_id is not None and order["engineer_id"] == principal.engineer_id
    if principal.work_order_id:
        return bool(order["id"] == principal.work_order_id)
    if principal.role == "customer":
        return principal.customer_id is not None and order["customer_id"] == principal.customer_id
    return False


async def order_for(
    conn: Conn, principal: Principal, work_order_id: str, *, lock: bool = False
) -> dict[str, Any]:
    """The order, or 404 both when it does not exist and when it is not the caller's."""
    order = await get_order(conn, work_order_id, lock=lock)
    if not may_see(principal, order):
        raise NotFound(f"work order {work_order_id!r} not found")
    return order
