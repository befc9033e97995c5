"""Attachment rows (the bytes live in a ``store.blobs`` store)."""

from __future__ import annotations

from typing import Any

from store.sql import Conn
from store.sql import fetch_all as _rows

_COLUMNS = (
    "id, work_order_id, kind, sha256, size, content_type, storage_key, thumbnail_key,"
    " captured_at, lat, lon, exif_taken_at, exif_lat, exif_lon, uploaded_by, created_at"
)


async def get(conn: Conn, attachment_id: str) -> dict[str, Any] | None:
    found = await _rows(conn, f"SELECT {_COLUMNS} FROM attachments WHERE id = %s",  # noqa: S608  # nosec B608 - fixed columns
                        (attachment_id,))
    return found[0] if found else None


async def find(conn: Conn, work_order_id: str, kind: str, sha256: str) -> dict[str, Any] | None:
    found = await _rows(
        conn,
        f"SELECT {_COLUMNS} FROM attachments"  # noqa: S608  # nosec B608 - fixed columns
        " WHERE work_order_id = %s AND kind = %s AND sha256 = %s",
        (work_order_id, kind, sha256),
    )
    return found[0] if found else None


async def for_order(conn: Conn, work_order_id: str) -> list[dict[str, Any]]:
    return await _rows(
        conn,
        f"SELECT {_COLUMNS} FROM attachments WHERE work_order_id = %s"  # noqa: S608  # nosec B608 - fixed columns
        " ORDER BY created_at, id",
        (work_order_id,),
    )


async def insert(conn: Conn, row: dict[str, Any]) -> dict[str, Any] | None:
    """Insert; None when the same file (order, kind, sha256) is there already."""
    found = await _rows(
        conn,
        "INSERT INTO attachments (id, work_order_id, kind, sha256, size, content_type,"  # noqa: S608  # nosec B608 - fixed columns
        " storage_key, thumbnail_key, captured_at, lat, lon, exif_taken_at, exif_lat, exif_lon,"
        " uploaded_by) VALUES (%(id)s, %(work_order_id)s, %(kind)s, %(sha256)s, %(size)s,"
        " %(content_type)s, %(storage_key)s, %(thumbnail_key)s, %(captured_at)s, %(lat)s,"
        " %(lon)s, %(exif_taken_at)s, %(exif_lat)s, %(exif_lon)s, %(uploaded_by)s)"
        " ON CONFLICT (work_order_id, kind, sha256) DO NOTHING"
        f" RETURNING {_COLUMNS}",
        row,
    )
    return found[0] if found else None
