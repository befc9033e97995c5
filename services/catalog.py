"""The reference data a dispatcher keeps: customers, sites, asset models, assets, parts.

Each change is stored with its audit row in one transaction (``services.audited``);
an update returns None when there is nothing of that id (the caller answers 404).
``fields``/``changes`` are the record's columns by name (updates: None keeps a value).
"""

from __future__ import annotations

from typing import Any

from services.audited import audited
from store import asset_models, assets, customers, parts, sites
from store.audit import Actor
from store.sql import Conn

Row = dict[str, Any]


async def create_customer(conn: Conn, who: Actor, fields: Row) -> Row:
    return await audited(conn, who, "create", "customer", fields["id"], fields,
                         lambda: customers.insert(conn, **fields))


async def update_customer(conn: Conn, who: Actor, customer_id: str, changes: Row) -> Row | None:
    return await audited(conn, who, "update", "customer", customer_id, changes,
                         lambda: customers.update(conn, customer_id, **changes))


async def create_site(conn: Conn, who: Actor, fields: Row) -> Row:
    return await audited(conn, who, "create", "site", fields["id"], fields,
                         lambda: sites.insert(conn, **fields))


async def update_site(conn: Conn, who: Actor, site_id: str, changes: Row) -> Row | None:
    return await audited(conn, who, "update", "site", site_id, changes,
                         lambda: sites.update(conn, site_id, **changes))


async def create_asset_model(conn: Conn, who: Actor, fields: Row) -> Row:
    return await audited(conn, who, "create", "asset_model", fields["id"], fields,
                         lambda: asset_models.insert(conn, **fields))


async def update_asset_model(
    conn: Conn, who: Actor, model_id: str, changes: Row, *, set_fault_model: bool
) -> Row | None:
    """``set_fault_model``: the fault model was sent (absent from ``changes``, or "":
    stop watching)."""
    return await audited(
        conn, who, "update", "asset_model", model_id, changes,
        lambda: asset_models.update(conn, model_id, set_fault_model=set_fault_model, **changes),
    )


async def create_asset(conn: Conn, who: Actor, fields: Row) -> Row:
    return await audited(conn, who, "create", "asset", fields["id"], fields,
                         lambda: assets.insert(conn, **fields))


async def update_asset(conn: Conn, who: Actor, asset_id: str, changes: Row) -> Row | None:
    return await audited(conn, who, "update", "asset", asset_id, changes,
                         lambda: assets.update(conn, asset_id, **changes))


async def create_part(conn: Conn, who: Actor, fields: Row) -> Row:
    return await audited(conn, who, "create", "part", fields["id"], fields,
                         lambda: parts.insert(conn, **fields))


async def update_part(conn: Conn, who: Actor, part_id: str, changes: Row) -> Row | None:
    return await audited(conn, who, "update", "part", part_id, changes,
                         lambda: parts.update(conn, part_id, **changes))
