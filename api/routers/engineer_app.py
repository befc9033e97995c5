"""The engineer's app (``/app``, an installable PWA) and its live channel ``/ws/inbox``."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, RedirectResponse

from api.auth import principal_from_pool
from api.inbox import InboxHub

APP = Path(__file__).resolve().parent.parent / "static" / "app"
router = APIRouter(tags=["app"])
MEDIA = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".html": "text/html",
    ".webmanifest": "application/manifest+json",
}
# The shell must be revalidated, or a phone keeps an old app forever.
NO_CACHE = {"Cache-Control": "no-cache"}


def app_file(name: str) -> Path:
    """A file of the app by its name under /app/, 404 for anything outside it."""
    path = (APP / name).resolve()
    if not path.is_relative_to(APP) or not path.is_file() or path.suffix not in MEDIA:
        raise HTTPException(404, f"no such file in the app: {name!r}")
    return path


@router.get("/app", include_in_schema=False)
async def app_root() -> RedirectResponse:
    return RedirectResponse("/app/", status_code=308)


@router.get("/app/", include_in_schema=False)
async def app_index() -> FileResponse:
    return FileResponse(APP / "index.html", headers=NO_CACHE)


@router.get("/app/sw.js", include_in_schema=False)
async def service_worker() -> FileResponse:
    return FileResponse(
        APP / "sw.js",
        media_type="text/javascript",
        headers={**NO_CACHE, "Service-Worker-Allowed": "/app/"},
    )


@router.get("/app/{name:path}", include_in_schema=False)
async def app_static(name: str) -> FileResponse:
    path = app_file(name)
    return FileResponse(path, media_type=MEDIA[path.suffix], headers=NO_CACHE)


@router.websocket("/ws/inbox")
async def inbox(ws: WebSocket, token: str | None = None) -> None:
    """The engineer's own inbox, live: what dispatch sends to their phone over MQTT
    (``{"type": "assignment", ...}``, ``{"type": "withdrawn", ...}``). First message
    ``{"type": "hello", "engineer_id": ...}``. Query ``token`` (an engineer token).
    Close codes: 4401 no/bad token, 4403 not an engineer."""
    await ws.accept()
    try:
        principal = await principal_from_pool(ws, token or "")
    except HTTPException:  # this address failed too many lookups lately
        await ws.close(code=4429, reason="too many failed attempts; try again later")
        return
    if principal is None or principal.work_order_id:
        await ws.close(code=4401, reason="missing or invalid token")
        return
    if principal.role != "engineer" or not principal.engineer_id:
        await ws.close(code=4403, reason="the inbox is for engineers")
        return
    hub: InboxHub = ws.app.state.inbox
    client = hub.register(principal.engineer_id)
    timeout = hub.settings.live_send_timeout_s
    try:
        await ws.send_text(json.dumps({"type": "hello", "engineer_id": principal.engineer_id}))
        reader = asyncio.create_task(_until_closed(ws))
        try:
            while not reader.done():
                getter = asyncio.create_task(client.queue.get())
                await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    break
                msg: dict[str, Any] = getter.result()
                if client.skipped:
                    msg = {**msg, "skipped": client.skipped}
                    client.skipped = 0
                await asyncio.wait_for(ws.send_text(json.dumps(msg)), timeout)
        finally:
            reader.cancel()
    except (WebSocketDisconnect, TimeoutError, RuntimeError):
        pass
    finally:
        hub.unregister(client)
        with contextlib.suppress(Exception):
            await ws.close()


async def _until_closed(ws: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            if (await ws.receive())["type"] == "websocket.disconnect":
                return
