"""Websocket ``/ws/live``: a dispatcher's live feed (snapshot first, then changes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time as clock
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect

from api.auth import Principal, principal_from_pool
from api.live import Hub, LiveClient, parse_bbox
from store.live import snapshot

router = APIRouter(tags=["live"])


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def dumps(obj: Any) -> str:
    return json.dumps(obj, default=_default, separators=(",", ":"))


PROTOCOL = "fieldflow.v1"
BEARER_PREFIX = "bearer."


def credentials(headers: Any) -> tuple[str, str | None]:
    """The token and the subprotocol to answer with. The token never travels in the URL
    (access logs record URLs): an ``Authorization: Bearer`` header, or, from a browser
    (which cannot set headers on a websocket), the subprotocols
    ``["fieldflow.v1", "bearer.<token>"]``."""
    header = headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), None
    offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
    for proto in offered:
        if proto.startswith(BEARER_PREFIX):
            return proto.removeprefix(BEARER_PREFIX), PROTOCOL if PROTOCOL in offered else None
    return "", None


async def _principal(ws: WebSocket, token: str) -> Principal | None:
    return await principal_from_pool(ws, token)


@router.websocket("/ws/live")
async def live(
    ws: WebSocket,
    engineer: str | None = None,
    bbox: str | None = None,
) -> None:
    """Token: ``Authorization: Bearer`` or the subprotocols ``fieldflow.v1`` +
    ``bearer.<token>`` (see :func:`credentials`); optional ``engineer`` and
    ``bbox=minlat,minlon,maxlat,maxlon``. Close codes: 4401 no/bad/revoked token (checked
    again every ``ws_recheck_s``), 4403 not a dispatcher or admin, 4422 bad filter,
    4429 too many failed attempts from this address."""
    token, subprotocol = credentials(ws.headers)
    await ws.accept(subprotocol=subprotocol)
    try:
        principal = await _principal(ws, token) if token else None
    except HTTPException:  # the address is throttled
        await ws.close(code=4429, reason="too many failed attempts; try again later")
        return
    if principal is None or principal.work_order_id:
        await ws.close(code=4401, reason="missing or invalid token")
        return
    if not principal.is_staff:
        await ws.close(code=4403, reason="the live feed is for dispatchers and admins")
        return
    try:
        box = parse_bbox(bbox)
    except ValueError as exc:
        await ws.close(code=4422, reason=str(exc)[:100])
        return
    hub: Hub = ws.app.state.hub
    # Register before the snapshot so nothing falls between the two.
    client = hub.register(
        LiveClient(engineer=engineer, bbox=box, maxsize=hub.settings.live_queue_size)
    )
    try:
        async with ws.app.state.pool.connection() as conn:
            snap = await snapshot(conn)
        if engineer:
            snap["engineers"] = [e for e in snap["engineers"] if e["id"] == engineer]
            snap["orders"] = [o for o in snap["orders"] if o["engineer_id"] == engineer]
            snap["etas"] = [t for t in snap["etas"] if t["engineer_id"] == engineer]
        await ws.send_text(dumps({"type": "snapshot", "data": snap}))
        reader = asyncio.create_task(_drain(ws))
        recheck_s = hub.settings.ws_recheck_s
        next_check = clock.monotonic() + recheck_s
        try:
            while not reader.done():
                getter = asyncio.create_task(client.queue.get())
                await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED,
                                   timeout=max(0.0, next_check - clock.monotonic()))
                if clock.monotonic() >= next_check:
                    next_check = clock.monotonic() + recheck_s
                    if not await _still_valid(ws, token):
                        getter.cancel()
                        await ws.close(code=4401, reason="token revoked or expired")
                        break
                if not getter.done():
                    getter.cancel()
                    if reader.done():
                        break
                    continue
                msg = getter.result()
                if client.skipped:
                    msg = {**msg, "skipped": client.skipped}
                    client.skipped = 0
                await asyncio.wait_for(
                    ws.send_text(dumps(msg)), hub.settings.live_send_timeout_s
                )
        finally:
            reader.cancel()
    except (WebSocketDisconnect, TimeoutError, RuntimeError):
        pass
    finally:
        hub.unregister(client)
        with contextlib.suppress(Exception):
            await ws.close()


async def _still_valid(ws: WebSocket, token: str) -> bool:
    """A revoked token, an expired one or a disabled user ends the feed."""
    try:
        return await _principal(ws, token) is not None
    except HTTPException:
        return False


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
