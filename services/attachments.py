"""Attachments of a work order: photos, signatures and documents, stored outside the
database (``store.blobs``), described by a row (``store.attachments``).

An upload is idempotent: the same bytes for the same order and kind give back the
attachment stored first (the app replays uploads from its offline outbox).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

from models.workorder import DomainError
from services import media
from services.workorders import NotFound
from store import attachments as db
from store.blobs import BlobStore

KINDS = ("photo", "signature", "document")
CLOSED = frozenset({"signed_off", "closed", "cancelled"})


class UnsupportedType(DomainError):
    status_code = 415


class InvalidUpload(DomainError):
    status_code = 422


class OrderClosed(DomainError):
    status_code = 409


@dataclass(frozen=True)
class StoredFile:
    """An uploaded file on local disk, with its hash and size counted while it arrived."""

    path: Path
    sha256: str
    size: int
    head: bytes


def content_type_for(kind: str, head: bytes) -> str:
    """The sniffed type, if ``kind`` takes it; ``UnsupportedType`` (415) otherwise."""
    if kind not in KINDS:
        raise InvalidUpload(f"kind must be one of {', '.join(KINDS)}")
    sniffed = media.sniff(head[: media.SNIFF_BYTES])
    if sniffed is None:
        raise UnsupportedType("unsupported file type: only JPEG, PNG, WebP and PDF are taken")
    if sniffed not in media.KIND_TYPES[kind]:
        raise UnsupportedType(f"a {kind} must be an image (JPEG, PNG or WebP), not {sniffed}")
    return sniffed


def blob_key(prefix: str, sha256: str, suffix: str = "") -> str:
    return f"{prefix}{sha256[:2]}/{sha256}{suffix}"


async def add_attachment(
    conn: AsyncConnection[Any],
    blobs: BlobStore,
    order: dict[str, Any],
    upload: StoredFile,
    *,
    kind: str,
    captured_at: datetime | None,
    lat: float | None,
    lon: float | None,
    actor: str,
) -> tuple[dict[str, Any], bool]:
    """(attachment, created): False when the same file was uploaded for this order and
    kind before (that first attachment is returned)."""
    content_type = content_type_for(kind, upload.head)
    existing = await db.find(conn, order["id"], kind, upload.sha256)
    if existing is not None:  # a replay: answered even after the order was closed
        return existing, False
    if order["status"] in CLOSED:
        raise OrderClosed(f"a {order['status']} order takes no more attachments")
    facts: media.PhotoFacts | None = None
    try:
        if kind == "photo":
            facts = await asyncio.to_thread(media.photo_facts, upload.path)
        elif content_type in media.IMAGE_TYPES:
            await asyncio.to_thread(media.check_image, upload.path)
    except media.UnreadableImage as exc:
        raise InvalidUpload(str(exc)) from None
    key = blob_key("", upload.sha256)
    await asyncio.to_thread(blobs.put_file, key, upload.path, content_type)
    thumb_key = None
    if facts is not None:
        thumb_key = blob_key("thumbnails/", upload.sha256, ".jpg")
        await asyncio.to_thread(blobs.put_bytes, thumb_key, facts.thumbnail, "image/jpeg")
    row = {
        "id": f"att-{secrets.token_hex(8)}",
        "work_order_id": order["id"],
        "kind": kind,
        "sha256": upload.sha256,
        "size": upload.size,
        "content_type": content_type,
        "storage_key": key,
        "thumbnail_key": thumb_key,
        "captured_at": captured_at or (facts.taken_at if facts else None),
        "lat": lat if lat is not None else (facts.lat if facts else None),
        "lon": lon if lon is not None else (facts.lon if facts else None),
        "exif_taken_at": facts.taken_at if facts else None,
        "exif_lat": facts.lat if facts else None,
        "exif_lon": facts.lon if facts else None,
        "uploaded_by": actor,
    }
    inserted = await db.insert(conn, row)
    if inserted is None:  # a concurrent upload of the same file won the race
        again = await db.find(conn, order["id"], kind, upload.sha256)
        assert again is not None
        return again, False
    return inserted, True


async def attachment(conn: AsyncConnection[Any], attachment_id: str) -> dict[str, Any]:
    row = await db.get(conn, attachment_id)
    if row is None:
        raise NotFound(f"attachment {attachment_id!r} not found")
    return row


async def attachments_of(conn: AsyncConnection[Any], work_order_id: str) -> list[dict[str, Any]]:
    return await db.for_order(conn, work_order_id)


async def content(blobs: BlobStore, row: dict[str, Any], *, thumbnail: bool) -> tuple[bytes, str]:
    """(bytes, content type) of an attachment or of its thumbnail."""
    if thumbnail:
        if not row["thumbnail_key"]:
            raise NotFound(f"attachment {row['id']!r} has no thumbnail (photos only)")
        return await asyncio.to_thread(blobs.read, row["thumbnail_key"]), "image/jpeg"
    return await asyncio.to_thread(blobs.read, row["storage_key"]), str(row["content_type"])
