"""Websocket ``/ws/live``: a dispatcher's live feed (snapshot first, then changes)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.auth import lookup_token
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


def _bearer(ws: WebSocket, token: str | None) -> str:
    if token:
        return token
    header = ws.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else ""


@router.websocket("/ws/live")
async def live(
    ws: WebSocket,
    token: str | None = None,
    engineer: str | None = None,
    bbox: str | None = None,
) -> None:
    """Query: ``token`` (or an Authorization header), optional ``engineer`` and
    ``bbox=minlat,minlon,maxlat,maxlon``. Close codes: 4401 no/bad token, 4403 not a
    dispatcher or admin, 4422 bad filter."""
    await ws.accept()
    principal = await lookup_token(ws.app.state.pool, _bearer(ws, token))
    if principal is None:
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
        try:
            while not reader.done():
                getter = asyncio.create_task(client.queue.get())
                await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    break
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


async def _drain(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            msg = await ws.receive()
            if msg["type"] == "websocket.disconnect":
                return
