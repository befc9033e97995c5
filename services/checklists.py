"""Checklist answers for a work order: validated against the order type's template.

Item kinds: ``checkbox`` (bool), ``number`` (within the item's ``min``/``max``),
``photo`` and ``signature`` (the id of an attachment of the same order and kind, see
``services.checklist_files``). Required items gate completion
(``services.transitions.checklist_complete``).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from models.workorder import DomainError
from services.checklist_files import FILE_KINDS, attachment_id_of, resolve
from services.publisher import Audit, Publisher
from store.sql import fetch_all, fetch_one

CLOSED_FOR_EDIT = frozenset({"signed_off", "closed", "cancelled"})


class InvalidAnswer(DomainError):
    status_code = 422


class ChecklistLocked(DomainError):
    status_code = 409


def validate_answer(item: dict[str, Any], value: Any) -> Any:
    """Return the value to store for ``item`` or raise ``InvalidAnswer``."""
    kind, label = item.get("kind"), item.get("id")
    if kind == "checkbox":
        if not isinstance(value, bool):
            raise InvalidAnswer(f"{label}: a checkbox takes true or false")
        return value
    if kind == "number":
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or not math.isfinite(value):
            raise InvalidAnswer(f"{label}: a number is required")
        low, high = item.get("min"), item.get("max")
        if low is not None and value < low:
            raise InvalidAnswer(f"{label}: {value} is below the minimum {low}")
        if high is not None and value > high:
            raise InvalidAnswer(f"{label}: {value} is above the maximum {high}")
        return value
    if kind in FILE_KINDS:  # the attachment is checked against the order in save_answers
        return {"attachment_id": attachment_id_of(label, str(kind), value)}
    raise InvalidAnswer(f"{label}: unknown item kind {kind!r}")


async def template_items(conn: AsyncConnection[Any], order_type: str) -> list[dict[str, Any]]:
    row = await fetch_one(
        conn, "SELECT items FROM checklist_templates WHERE order_type = %s", (order_type,)
    )
    return list(row["items"]) if row else []


async def checklist(conn: AsyncConnection[Any], order: dict[str, Any]) -> list[dict[str, Any]]:
    """The template's items, each with its answer (or None)."""
    items = await template_items(conn, order["order_type"])
    answers = {r["item_id"]: r for r in await fetch_all(
        conn,
        "SELECT item_id, value, answered_at, answered_by FROM checklist_answers"
        " WHERE work_order_id = %s",
        (order["id"],),
    )}
    out = []
    for item in items:
        ans = answers.get(item["id"])
        out.append(
            {
                **item,
                "required": bool(item.get("required")),
                "value": ans["value"] if ans else None,
                "answered_at": ans["answered_at"] if ans else None,
                "answered_by": ans["answered_by"] if ans else None,
            }
        )
    return out


async def save_answers(
    conn: AsyncConnection[Any],
    order: dict[str, Any],
    answers: dict[str, Any],
    *,
    actor: str,
    at: datetime,
    publisher: Publisher | None = None,
    audit: Audit | None = None,
) -> None:
    """Validate every answer first, then store them all (one transaction)."""
    if order["status"] in CLOSED_FOR_EDIT:
        raise ChecklistLocked(f"the checklist of a {order['status']} order cannot change")
    items = {i["id"]: i for i in await template_items(conn, order["order_type"])}
    clean: dict[str, Any] = {}
    for item_id, value in answers.items():
        if item_id not in items:
            raise InvalidAnswer(
                f"{item_id!r} is not an item of the {order['order_type']} checklist"
            )
        clean[item_id] = validate_answer(items[item_id], value)
        if items[item_id].get("kind") in FILE_KINDS:
            clean[item_id] = await resolve(conn, order, items[item_id], value)
    async with conn.transaction():
        for item_id, value in clean.items():
            await conn.execute(
                "INSERT INTO checklist_answers (work_order_id, item_id, value, answered_at,"
                " answered_by) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (work_order_id, item_id)"
                " DO UPDATE SET value = EXCLUDED.value, answered_at = EXCLUDED.answered_at,"
                " answered_by = EXCLUDED.answered_by",
                (order["id"], item_id, Jsonb(value), at, actor),
            )
        if publisher is not None and audit is not None:
            await publisher.audit(audit)
