"""Every ETA the platform publishes, read from the dispatcher's live feed (``/ws/live``).

A thread holds one websocket (the admin token as a subprotocol, as the dashboard does)
and keeps the ``eta`` messages (``events.eta``) as :class:`Published`; it reconnects
after a drop and counts what it could not read, so the report can say so.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.sync.client import ClientConnection, connect
from websockets.sync.connection import Connection

from simulators.etaeval import Published
from simulators.report import ts_of

log = logging.getLogger("fieldflow.simulators.etafeed")
RECONNECT_S = 1.0


def published_of(msg: dict[str, Any]) -> Published | None:
    """The ETA in one live-feed message, None for any other message or a malformed one."""
    if msg.get("type") != "eta" or not isinstance(msg.get("data"), dict):
        return None
    data = msg["data"]
    at, eta, order = ts_of(data.get("ts")), ts_of(data.get("eta_ts")), data.get("work_order_id")
    if at is None or eta is None or not order:
        return None
    return Published(str(order), at, eta)


class EtaFeed:
    """``start()`` returns once the feed's snapshot came (so nothing later is missed)."""

    def __init__(self, api_url: str, token: str) -> None:
        self.url = api_url.replace("http://", "ws://").replace("https://", "wss://") + "/ws/live"
        self.token = token
        self.published: list[Published] = []
        self.reconnects = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eta-feed", daemon=True)

    def start(self, timeout_s: float = 30.0) -> bool:
        self._thread.start()
        if not self._ready.wait(timeout_s):
            log.warning("the live feed %s sent no snapshot in %.0fs: ETAs may be missing",
                        self.url, timeout_s)
            return False
        return True

    def stop(self) -> list[Published]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        return self.snapshot()

    def snapshot(self) -> list[Published]:
        with self._lock:
            return list(self.published)

    def _connect(self) -> ClientConnection:
        return connect(self.url, subprotocols=["fieldflow.v1", f"bearer.{self.token}"],  # type: ignore[list-item]
                       open_timeout=10, max_size=2**24)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self._connect() as ws:
                    self._read(ws)
            except (OSError, WebSocketException, TimeoutError) as exc:
                if self._stop.is_set():
                    return
                self.reconnects += 1
                log.warning("live feed: %s (reconnecting)", exc)
                time.sleep(RECONNECT_S)

    def _read(self, ws: Connection) -> None:
        while not self._stop.is_set():
            try:
                raw = ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            except ConnectionClosed:
                raise
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            if msg.get("type") == "snapshot":
                self._ready.set()
                continue
            found = published_of(msg)
            if found is not None:
                with self._lock:
                    self.published.append(found)
