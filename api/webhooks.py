"""Webhook delivery from the durable ``webhook_deliveries`` rows.

A row per (subscription, event) is written in the transaction of the event
(``services.outbox``); the relay's leader (``api/relay.py``) POSTs due rows signed, with
the event id in ``X-FieldFlow-Event-Id`` (receivers drop repeats by it), records every
attempt (``attempt``, ``status_code``, ``error``), retries with exponential back-off
(``webhook_backoff_s`` doubling up to ``webhook_backoff_max_s``) across restarts, marks
the row ``delivered`` on a 2xx (never sent again) and ``dead`` after
``webhook_max_attempts``. A target that resolves to an internal address now (names may
resolve differently than at registration, ``api/egress.py``) is not contacted: the row
is marked ``dead`` with the reason.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from psycopg_pool import AsyncConnectionPool

from api.egress import Refused, check_destination, networks
from services.webhooks import SIGNATURE_HEADER, backoff_s, body, sign
from stack.settings import Settings
from store import outbox as q

log = logging.getLogger("fieldflow.api.webhooks")
BATCH = 50
EVENT_ID_HEADER = "X-FieldFlow-Event-Id"


class WebhookSender:
    def __init__(self, settings: Settings, pool: AsyncConnectionPool) -> None:
        self.settings = settings
        self.pool = pool
        self.allowed = networks(settings.webhook_allowed_networks)
        self._http = httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False)

    async def close(self) -> None:
        await self._http.aclose()

    async def deliver_due(self) -> bool:
        """Attempt every due delivery once (concurrently); True when the batch was full."""
        async with self.pool.connection() as conn:
            due = await q.due_deliveries(conn, BATCH)
        await asyncio.gather(*(self._attempt(d) for d in due))
        return len(due) >= BATCH

    async def _attempt(self, d: dict[str, Any]) -> None:
        s = self.settings
        data = d["payload"]
        raw = body(str(d["event_id"]), d["event_type"], data.get("ts"), data)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(d["secret"], raw),
            "X-FieldFlow-Event": d["event_type"],
            EVENT_ID_HEADER: str(d["event_id"]),
            "User-Agent": "FieldFlow-Webhooks/0.2",
        }
        status: int | None = None
        error: str | None = None
        refused = False
        try:
            await check_destination(d["url"], self.allowed)  # again: names change
            resp = await self._http.post(d["url"], content=raw, headers=headers)
            status = resp.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        except Refused as exc:
            error, refused = str(exc)[:500], True
        attempt = int(d["attempt"]) + 1
        state = ("delivered" if error is None
                 else "dead" if refused or attempt >= s.webhook_max_attempts else "pending")
        if state == "dead":
            log.warning("webhook %s: delivery %s dead after %d attempts (%s)",
                        d["webhook_id"], d["id"], attempt, error)
        retry = backoff_s(attempt, s.webhook_backoff_s, s.webhook_backoff_max_s)
        async with self.pool.connection() as conn:
            await q.settle_delivery(conn, d["id"], state, status, error, retry)
