"""The one SLA rule: the response target of an order from its customer's tier and its
priority (``sla_targets``, migration 007). Used by every path that creates an order: the
API, the streams' automatic orders (IoT alerts, fault predictions) and so the simulator.

Default, documented once: an order without a known customer is treated as a ``silver``
customer's (the ``customers.sla_tier`` default); a tier without a row for the priority
uses the tier's ``sla_policies.response_minutes``; a tier unknown altogether gets
``DEFAULT_RESPONSE_MINUTES``.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from store.sql import fetch_one

DEFAULT_TIER = "silver"
DEFAULT_RESPONSE_MINUTES = 240


def due_ms(created_ms: int, response_minutes: int) -> int:
    """The due time: creation (event time) plus the response target."""
    return created_ms + response_minutes * 60_000


async def response_minutes(
    conn: AsyncConnection[Any], *, priority: str, customer_id: str | None = None,
    site_id: str | None = None,
) -> int:
    """The response target in minutes for the customer (or the site's customer)."""
    row = await fetch_one(
        conn,
        "SELECT coalesce(t.response_minutes, p.response_minutes) AS minutes"
        " FROM (SELECT coalesce((SELECT sla_tier FROM customers WHERE id = coalesce(%s,"
        "   (SELECT customer_id FROM sites WHERE id = %s))), %s) AS tier) c"
        " LEFT JOIN sla_policies p ON p.tier = c.tier"
        " LEFT JOIN sla_targets t ON t.tier = c.tier AND t.priority = %s",
        (customer_id, site_id, DEFAULT_TIER, priority),
    )
    if row is None or row["minutes"] is None:
        return DEFAULT_RESPONSE_MINUTES
    return int(row["minutes"])


async def sla_due_ms(
    conn: AsyncConnection[Any], *, created_ms: int, priority: str,
    customer_id: str | None = None, site_id: str | None = None,
) -> int:
    minutes = await response_minutes(conn, priority=priority, customer_id=customer_id,
                                     site_id=site_id)
    return due_ms(created_ms, minutes)
