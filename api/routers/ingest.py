"""Phones over HTTP: the engineer app, Traccar Client (OsmAnd) and OwnTracks HTTP mode.

All three go through the MQTT bridge's adapters and validation to ``telemetry.positions``;
anything refused is answered 4xx with the reason and written to ``ingest.deadletter``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from api.auth import Principal, principal_from_pool, require_roles
from api.bodies import BodyTooLarge, read_body
from api.deps import ConnDep
from api.httpingest import HttpIngest, Outcome
from store.trackers import engineer_for_tracker

router = APIRouter(tags=["ingest"])
EngineerToken = Annotated[Principal, require_roles("engineer")]
_BASIC = {"WWW-Authenticate": 'Basic realm="FieldFlow OwnTracks"'}


def _ingest(request: Request) -> HttpIngest:
    ingest: HttpIngest = request.app.state.http_ingest
    return ingest


def _error(outcome: Outcome) -> JSONResponse:
    return JSONResponse({"error": {"status": outcome.status, "message": outcome.message,
                                   "accepted": outcome.accepted, "rejected": outcome.rejected}},
                        status_code=outcome.status)


async def _body(request: Request, limit: int) -> bytes | Outcome:
    try:
        return await read_body(request, limit)
    except BodyTooLarge as exc:
        return await _ingest(request).refuse(request.url.path, exc.head, str(exc), status=413)


@router.post("/api/v1/positions", status_code=202, responses={
    202: {"content": {"application/json": {"example": {"accepted": 2}}}},
    422: {"description": "some positions refused: accepted, rejected [{index, reason}]"}})
async def post_positions(request: Request, p: EngineerToken) -> Any:
    """One native position ``{"ts", "lat", "lon", "acc", "spd", "hdg", "batt"}`` or an array
    of them, for the token's engineer. Valid items are stored even when others are refused
    (422 lists the refused ones by index); positions are idempotent by (engineer, ts), so a
    client may resend a whole batch."""
    ingest = _ingest(request)
    body = await _body(request, ingest.max_body)
    if isinstance(body, Outcome):
        return _error(body)
    outcome = await ingest.native(p.engineer_id or "", body, request.url.path)
    if outcome.rejected:
        return _error(outcome)
    return JSONResponse({"accepted": outcome.accepted}, status_code=202)


@router.api_route("/ingest/osmand", methods=["GET", "POST"])
async def osmand_ingest(request: Request, conn: ConnDep) -> Any:
    """Traccar Client / OsmAnd: ``?id=<tracker_id>&lat=&lon=&timestamp=&speed=(knots)&...``
    (in the URL or a form body), or Traccar Client's JSON body. ``id`` is the engineer's
    ``tracker_id``."""
    ingest = _ingest(request)
    body = await _body(request, ingest.max_osmand_body)
    if isinstance(body, Outcome):
        return _error(body)

    async def engineer_for(tracker_id: str) -> str | None:
        return await engineer_for_tracker(conn, tracker_id)

    outcome = await ingest.osmand_request(request.headers.get("content-type", ""),
                                          str(request.url.query), body, request.url.path,
                                          engineer_for)
    if outcome.rejected:
        return _error(outcome)
    return JSONResponse({"accepted": outcome.accepted}, status_code=200)


async def _basic_engineer(request: Request, authorization: str | None) -> tuple[str, str]:
    """(engineer id, password) from HTTP Basic auth whose password is that engineer's token."""
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not value:
        raise HTTPException(401, "HTTP Basic auth required (user: engineer id, password:"
                            " an engineer token)", headers=_BASIC)
    try:
        user, sep, password = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise HTTPException(401, "malformed Basic credentials", headers=_BASIC) from None
    principal = await principal_from_pool(request, password) if sep else None
    if principal is None or principal.role != "engineer" or principal.engineer_id != user:
        raise HTTPException(401, "user and token do not match an engineer", headers=_BASIC)
    return user, password


@router.post("/ingest/owntracks")
async def owntracks_ingest(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_limit_d: Annotated[str | None, Header()] = None,
) -> Any:
    """OwnTracks in HTTP mode: Basic auth (user = engineer id, password = an engineer
    token), body ``{"_type": "location", ...}`` as on MQTT; answers ``[]``."""
    engineer_id, _ = await _basic_engineer(request, authorization)
    ingest = _ingest(request)
    body = await _body(request, ingest.max_json_body)
    if isinstance(body, Outcome):
        return _error(body)
    outcome = await ingest.owntracks(engineer_id, x_limit_d, body, request.url.path)
    if outcome.status >= 400:
        return _error(outcome)
    return Response(b"[]", media_type="application/json")
