"""Attachments of a work order: photos, signatures, documents (multipart upload)."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from api.access import order_for
from api.auth import Reader, StaffOrEngineer
from api.deps import ConnDep, audit
from api.httpingest import HttpIngest
from api.uploads import UploadRejected, discard, read_upload
from models.codec import describe
from models.workorder import DomainError
from services.attachments import StoredFile, add_attachment, attachment, attachments_of, content
from store.blobs import BlobStore

router = APIRouter(prefix="/api/v1", tags=["attachments"])


class AttachmentOut(BaseModel):
    id: str
    work_order_id: str
    kind: str
    sha256: str
    size: int
    content_type: str
    captured_at: datetime | None
    lat: float | None
    lon: float | None
    exif_taken_at: datetime | None = None
    uploaded_by: str
    created_at: datetime
    url: str
    thumbnail_url: str | None = None


class UploadForm(BaseModel):
    """The form fields beside ``file``."""

    kind: Literal["photo", "signature", "document"]
    captured_at: datetime | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


def _out(row: dict[str, Any]) -> dict[str, Any]:
    url = f"/api/v1/attachments/{row['id']}"
    return {**row, "url": url,
            "thumbnail_url": f"{url}?thumbnail=1" if row.get("thumbnail_key") else None}


def _form(fields: dict[str, str]) -> UploadForm:
    values = {k: v for k, v in fields.items() if v != ""}
    unknown = set(values) - set(UploadForm.model_fields)
    if unknown:
        raise UploadRejected(422, f"unknown form field(s): {', '.join(sorted(unknown))}")
    for key in ("lat", "lon"):
        if key in values:
            try:
                number = float(values[key])
            except ValueError:
                raise UploadRejected(422, f"{key}: not a number") from None
            if not math.isfinite(number):
                raise UploadRejected(422, f"{key}: must be finite")
    try:
        return UploadForm.model_validate(values)
    except ValidationError as exc:
        raise UploadRejected(422, describe(exc)) from None


async def _dead_letter(request: Request, status: int, message: str, head: bytes) -> JSONResponse:
    """A refused upload: answered with its status, and recorded in the dead letter."""
    ingest: HttpIngest = request.app.state.http_ingest
    await ingest.refuse(request.url.path, head, message, status=status)
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)


@router.post("/work-orders/{work_order_id}/attachments", response_model=AttachmentOut,
             status_code=201, responses={200: {"description": "the same file was uploaded"
                                               " before for this order and kind"}})
async def upload_attachment(
    work_order_id: str, request: Request, conn: ConnDep, p: StaffOrEngineer
) -> Any:
    """Multipart ``file`` + ``kind`` (photo | signature | document), optional
    ``captured_at``, ``lat``, ``lon``. JPEG, PNG, WebP or PDF (sniffed from the bytes;
    415 otherwise), at most ``attachment_max_bytes`` (413). Uploading the same bytes again
    for the same order and kind returns the first attachment (200)."""
    order = await order_for(conn, p, work_order_id)
    settings = request.app.state.settings
    blobs: BlobStore = request.app.state.blobs
    try:
        upload = await read_upload(request, settings.home_dir / "tmp" / "uploads",
                                   settings.attachment_max_bytes)
    except UploadRejected as exc:
        return await _dead_letter(request, exc.status, str(exc), exc.head)
    try:
        form = _form(upload.fields)
        assert upload.path is not None
        row, created = await add_attachment(
            conn, blobs, order, StoredFile(upload.path, upload.sha256, upload.size, upload.head),
            kind=form.kind, captured_at=form.captured_at, lat=form.lat, lon=form.lon,
            actor=p.actor)
    except UploadRejected as exc:
        return await _dead_letter(request, exc.status, str(exc), upload.head)
    except DomainError as exc:
        if exc.status_code in (415, 422):
            return await _dead_letter(request, exc.status_code, str(exc), upload.head)
        raise
    finally:
        discard(upload)
    if created:
        await audit(conn, p, "attach", "work_order", work_order_id,
                    {"attachment": row["id"], "kind": row["kind"], "sha256": row["sha256"]})
    return JSONResponse(AttachmentOut.model_validate(_out(row)).model_dump(mode="json"),
                        status_code=201 if created else 200)


@router.get("/work-orders/{work_order_id}/attachments", response_model=list[AttachmentOut])
async def list_attachments(work_order_id: str, conn: ConnDep, p: Reader) -> list[dict[str, Any]]:
    await order_for(conn, p, work_order_id)
    return [_out(row) for row in await attachments_of(conn, work_order_id)]


@router.get("/attachments/{attachment_id}", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/webp": {},
                                         "application/pdf": {}}}})
async def get_attachment(
    attachment_id: str, request: Request, conn: ConnDep, p: Reader, thumbnail: bool = False
) -> Response:
    """The stored bytes with their content type (``?thumbnail=1``: a photo's thumbnail)."""
    row = await attachment(conn, attachment_id)
    await order_for(conn, p, row["work_order_id"])  # 404 unless the caller may see the order
    data, content_type = await content(request.app.state.blobs, row, thumbnail=thumbnail)
    return Response(data, media_type=content_type, headers={
        "ETag": f'"{row["sha256"]}{"-thumb" if thumbnail else ""}"',
        "Cache-Control": "private, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": "inline",
    })
