"""Websocket ``/ws/live``: a dispatcher's live feed (snapshot first, then changes)."""

from __future__ import annotations

import contextlib
import json
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from api.live import Hub, LiveClient, parse_bbox
from api.wsauth import accept, pump
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


@router.websocket("/ws/live")
async def live(
    ws: WebSocket,
    engineer: str | None = None,
    bbox: str | None = None,
) -> None:
    """Token: ``Authorization: Bearer`` or the subprotocols ``fieldflow.v1`` +
    ``bearer.<token>`` (``api.wsauth``); optional ``engineer`` and
    ``bbox=minlat,minlon,maxlat,maxlon``. Close codes: 4401 no/bad/revoked token (checked
    again every ``ws_recheck_s``), 4403 not a dispatcher or admin, 4422 bad filter,
    4429 too many failed attempts from this address."""
    token, principal = await accept(ws)
    if principal is None:
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
        await pump(ws, client, token, recheck_s=hub.settings.ws_recheck_s,
                   send_timeout_s=hub.settings.live_send_timeout_s, dumps=dumps)
    except (WebSocketDisconnect, TimeoutError, RuntimeError):
        pass
    finally:
        hub.unregister(client)
        with contextlib.suppress(Exception):
            await ws.close()
