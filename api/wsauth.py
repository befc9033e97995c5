"""Websocket authentication and the send loop shared by ``/ws/live`` and ``/ws/inbox``.

The token never travels in the URL (access logs record URLs): an ``Authorization:
Bearer`` header, or, from a browser (which cannot set headers on a websocket), the
subprotocols ``["fieldflow.v1", "bearer.<token>"]``. The token is checked again every
``ws_recheck_s`` while the socket is open: a revoked or expired token, or a disabled user,
ends it with close code 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import time as clock
from collections.abc import Callable
from typing import Any, Protocol

from fastapi import HTTPException, WebSocket, WebSocketDisconnect

from api.auth import Principal, principal_from_pool

PROTOCOL = "fieldflow.v1"
BEARER_PREFIX = "bearer."


class QueuedClient(Protocol):
    queue: asyncio.Queue[dict[str, Any]]
    skipped: int


def credentials(headers: Any) -> tuple[str, str | None]:
    """The token and the subprotocol to answer with (see the module's docstring)."""
    header = headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), None
    offered = [p.strip() for p in headers.get("sec-websocket-protocol", "").split(",")]
    for proto in offered:
        if proto.startswith(BEARER_PREFIX):
            return proto.removeprefix(BEARER_PREFIX), PROTOCOL if PROTOCOL in offered else None
    return "", None


async def accept(ws: WebSocket) -> tuple[str, Principal | None]:
    """Accept the socket and resolve its principal; closes it (4429 throttled, 4401 no,
    bad or tracking-only token) and returns None when there is none."""
    token, subprotocol = credentials(ws.headers)
    await ws.accept(subprotocol=subprotocol)
    try:
        principal = await principal_from_pool(ws, token) if token else None
    except HTTPException:  # this address failed too many lookups lately
        await ws.close(code=4429, reason="too many failed attempts; try again later")
        return token, None
    if principal is None or principal.work_order_id:
        await ws.close(code=4401, reason="missing or invalid token")
        return token, None
    return token, principal


async def still_valid(ws: WebSocket, token: str) -> bool:
    """A revoked token, an expired one or a disabled user ends the socket."""
    try:
        return await principal_from_pool(ws, token) is not None
    except HTTPException:
        return False


async def pump(ws: WebSocket, client: QueuedClient, token: str, *, recheck_s: float,
               send_timeout_s: float, dumps: Callable[[Any], str]) -> None:
    """Send what arrives on ``client.queue`` until the peer goes away or the token stops
    being valid (checked every ``recheck_s``); ``skipped`` tells the peer what its bounded
    queue dropped."""
    reader = asyncio.create_task(_until_closed(ws))
    next_check = clock.monotonic() + recheck_s
    try:
        while not reader.done():
            getter = asyncio.create_task(client.queue.get())
            await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED,
                               timeout=max(0.0, next_check - clock.monotonic()))
            if clock.monotonic() >= next_check:
                next_check = clock.monotonic() + recheck_s
                if not await still_valid(ws, token):
                    getter.cancel()
                    await ws.close(code=4401, reason="token revoked or expired")
                    return
            if not getter.done():
                getter.cancel()
                continue
            msg = getter.result()
            if client.skipped:
                msg = {**msg, "skipped": client.skipped}
                client.skipped = 0
            await asyncio.wait_for(ws.send_text(dumps(msg)), send_timeout_s)
    finally:
        reader.cancel()


async def _until_closed(ws: WebSocket) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            if (await ws.receive())["type"] == "websocket.disconnect":
                return
