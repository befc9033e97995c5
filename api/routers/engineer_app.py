"""The engineer's app (``/app``, an installable PWA) and its live channel ``/ws/inbox``."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, RedirectResponse

from api.inbox import InboxHub
from api.wsauth import accept, pump

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
async def inbox(ws: WebSocket) -> None:
    """The engineer's own inbox, live: what dispatch sends to their phone over MQTT
    (``{"type": "assignment", ...}``, ``{"type": "withdrawn", ...}``). First message
    ``{"type": "hello", "engineer_id": ...}``. Token as for ``/ws/live`` (``api.wsauth``:
    a header or the subprotocols ``fieldflow.v1`` + ``bearer.<token>``, never the URL).
    Close codes: 4401 no/bad/revoked token (checked again every ``ws_recheck_s``), 4403
    not an engineer, 4429 too many failed attempts from this address."""
    token, principal = await accept(ws)
    if principal is None:
        return
    if principal.role != "engineer" or not principal.engineer_id:
        await ws.close(code=4403, reason="the inbox is for engineers")
        return
    hub: InboxHub = ws.app.state.inbox
    client = hub.register(principal.engineer_id)
    try:
        await ws.send_text(json.dumps({"type": "hello", "engineer_id": principal.engineer_id}))
        await pump(ws, client, token, recheck_s=hub.settings.ws_recheck_s,
                   send_timeout_s=hub.settings.live_send_timeout_s, dumps=json.dumps)
    except (WebSocketDisconnect, TimeoutError, RuntimeError):
        pass
    finally:
        hub.unregister(client)
        with contextlib.suppress(Exception):
            await ws.close()
