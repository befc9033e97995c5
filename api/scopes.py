"""Role scopes of work orders (issue #22), used by api/routers/work_orders.py.

- idempotency keys are per requester (another requester's key is just another key);
- a customer cannot choose priority or SLA (the policy decides), names only its own
  assets, and has at most ``customer_open_requests_max`` requests open;
- an engineer's reported arrival counts for the SLA only when the geofence saw them
  enter the site near that time; otherwise the receive time counts and the order is
  flagged; an arrival before the assignment is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import HTTPException, Request

from api.auth import Principal
from api.deps import Conn
from models.timeutil import now_ms
from store.scopes import arrival_facts, asset_customer, key_used, open_customer_requests

if TYPE_CHECKING:
    from api.routers.work_orders import WorkOrderIn

# What a customer's request may not choose: the policy (SLA tier, dispatch) decides.
CUSTOMER_FIXED = ("priority", "sla_due")


def check_requester(p: Principal, body: WorkOrderIn) -> WorkOrderIn:
    # Idempotency keys are per requester: another requester's key is just another key.
    key = f"{p.actor}:{body.idempotency_key}" if body.idempotency_key else None
    if p.is_staff:
        return body.model_copy(update={"idempotency_key": key})
    # A customer user raises requests for their own customer only.
    if p.role != "customer" or not p.customer_id or p.work_order_id:
        raise HTTPException(403, "only staff and customer users may create work orders")
    if body.customer_id not in (None, p.customer_id):
        raise HTTPException(403, "a customer may only raise requests for itself")
    fixed = [f for f in CUSTOMER_FIXED if f in body.model_fields_set]
    if fixed:
        raise HTTPException(403, f"a customer may not set {', '.join(fixed)}: the service "
                            "policy decides (priority P3, due time from the SLA tier)")
    return body.model_copy(update={"customer_id": p.customer_id, "source": "customer_request",
                                   "idempotency_key": key})


async def check_customer_scope(conn: Conn, p: Principal, body: WorkOrderIn,
                                limit: int) -> None:
    """A customer names only its own assets and has at most ``limit`` open requests."""
    if p.role != "customer" or not p.customer_id:
        return
    if body.asset_id is not None:
        exists, owner, site = await asset_customer(conn, body.asset_id)
        if not exists or owner != p.customer_id:
            raise HTTPException(403, f"asset {body.asset_id!r} is not one of yours")
        if body.site_id is not None and body.site_id != site:
            raise HTTPException(422, "the asset is not at that site")
    retry = body.idempotency_key is not None and await key_used(conn, body.idempotency_key)
    if not retry and await open_customer_requests(conn, p.customer_id) >= limit:
        raise HTTPException(409, f"customer {p.customer_id!r} already has {limit} open "
                            "requests (the limit); wait for one to be handled")


async def arrival(conn: Conn, request: Request, work_order_id: str, engineer_id: str,
                   ts: int | None) -> tuple[int | None, bool]:
    """(the event time to use, whether the arrival is unverified)."""
    at = datetime.fromtimestamp((ts or now_ms()) / 1000, UTC)
    assigned_at, seen = await arrival_facts(
        conn, work_order_id, engineer_id, at, request.app.state.settings.arrival_tolerance_s)
    if assigned_at is not None and at < assigned_at:
        raise HTTPException(422, f"on_site at {at.isoformat()} is before the order was "
                            f"assigned ({assigned_at.isoformat()})")
    return (ts, False) if seen else (None, True)

