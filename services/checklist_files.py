"""Checklist photo and signature items answered with a stored attachment.

The answer is the attachment's id (``"att-..."``, or ``{"attachment_id": "att-..."}``);
it must be an attachment of the same order and of the item's kind, so completion is
gated on real, stored files. What is kept as the answer is the attachment's description
(id, sha256, content type, time and position), not a free-text reference.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from models.workorder import DomainError
from store import attachments as db

FILE_KINDS = ("photo", "signature")


class InvalidFileAnswer(DomainError):
    status_code = 422


def attachment_id_of(label: object, kind: str, value: Any) -> str:
    """The attachment id an answer names; ``InvalidFileAnswer`` for any other shape."""
    if isinstance(value, dict) and set(value) == {"attachment_id"}:
        value = value["attachment_id"]
    if not isinstance(value, str) or not value.strip() or len(value) > 64 or "\x00" in value:
        raise InvalidFileAnswer(
            f"{label}: a {kind} item takes the id of an attachment uploaded to this order"
            f" (POST /api/v1/work-orders/{{id}}/attachments with kind={kind})"
        )
    return value.strip()


async def resolve(
    conn: AsyncConnection[Any], order: dict[str, Any], item: dict[str, Any], value: Any
) -> dict[str, Any]:
    """The stored answer for a photo/signature ``item``; 422 for a missing attachment, one
    of another order, or one of another kind."""
    kind, label = str(item.get("kind")), item.get("id")
    attachment_id = attachment_id_of(label, kind, value)
    row = await db.get(conn, attachment_id)
    if row is None or row["work_order_id"] != order["id"]:
        raise InvalidFileAnswer(
            f"{label}: attachment {attachment_id!r} is not an attachment of work order"
            f" {order['id']!r}"
        )
    if row["kind"] != kind:
        raise InvalidFileAnswer(
            f"{label}: attachment {attachment_id!r} is a {row['kind']}, this item needs a {kind}"
        )
    return {
        "attachment_id": row["id"],
        "sha256": row["sha256"],
        "content_type": row["content_type"],
        "captured_at": row["captured_at"].isoformat() if row["captured_at"] else None,
        "lat": row["lat"],
        "lon": row["lon"],
    }
