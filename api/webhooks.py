"""Webhook delivery: consume work-order and alert events (one consumer group shared by
all API replicas, so each event is delivered once), POST them signed, retry with
exponential backoff, log every attempt in ``webhook_deliveries``."""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

import httpx
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from api.consumer import Record, ThreadedConsumer
from api.egress import Refused, check_destination, networks
from services.webhooks import SIGNATURE_HEADER, backoff_s, body, event_type, matches, sign
from stack.settings import Settings

log = logging.getLogger("fieldflow.api.webhooks")
MAX_CONCURRENT = 20


class WebhookDispatcher:
    def __init__(self, settings: Settings, pool: AsyncConnectionPool) -> None:
        self.settings = settings
        self.pool = pool
        self.allowed = networks(settings.webhook_allowed_networks)
        self._tasks: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_CONCURRENT)
        self._http = httpx.AsyncClient(timeout=settings.webhook_timeout_s, follow_redirects=False)
        self._consumer = ThreadedConsumer(
            bootstrap=settings.resolved_kafka_bootstrap,
            group_id="fieldflow-api-webhooks",
            topics=["events.workorders", "events.alerts"],
            handle=self._on_batch,
            offset_reset="earliest",
            name="webhook-consumer",
        )

    def start(self) -> None:
        self._consumer.start()

    async def stop(self) -> None:
        self._consumer.stop()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._http.aclose()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_batch(self, batch: list[Record]) -> None:
        events = [
            (etype, rec["data"])
            for rec in batch
            if (etype := event_type(rec["topic"], rec["data"])) is not None
        ]
        if events:
            self._spawn(self._route(events))

    async def _route(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT id, url, event_types, secret FROM webhooks WHERE active"
            )
            hooks: list[dict[str, Any]] = await cur.fetchall()  # type: ignore[assignment]
        for etype, data in events:
            for hook in hooks:
                if matches(hook["event_types"], etype):
                    self._spawn(self.deliver(hook, etype, data))

    async def deliver(self, hook: dict[str, Any], etype: str, data: dict[str, Any]) -> None:
        raw = body(uuid.uuid4().hex, etype, data.get("ts"), data)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(hook["secret"], raw),
            "X-FieldFlow-Event": etype,
            "User-Agent": "FieldFlow-Webhooks/0.1",
        }
        s = self.settings
        for attempt in range(1, s.webhook_max_attempts + 1):
            status: int | None = None
            error: str | None = None
            async with self._slots:
                try:
                    await check_destination(hook["url"], self.allowed)  # again: DNS changes
                    resp = await self._http.post(hook["url"], content=raw, headers=headers)
                    status = resp.status_code
                    if not 200 <= status < 300:
                        error = f"HTTP {status}"
                except httpx.HTTPError as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
                except Refused as exc:
                    await self._log(hook["id"], etype, data, attempt, None, str(exc)[:500])
                    log.warning("webhook %s not delivered: %s", hook["id"], exc)
                    return
            await self._log(hook["id"], etype, data, attempt, status, error)
            if error is None:
                return
            if attempt < s.webhook_max_attempts:
                delay = backoff_s(attempt, s.webhook_backoff_s, s.webhook_backoff_max_s)
                await asyncio.sleep(delay)
        log.warning("webhook %s gave up on %s after %d attempts", hook["id"], etype, attempt)

    async def _log(  # noqa: PLR0917
        self,
        webhook_id: int,
        etype: str,
        data: dict[str, Any],
        attempt: int,
        status: int | None,
        error: str | None,
    ) -> None:
        try:
            async with self.pool.connection() as conn:
                await conn.execute(
                    "INSERT INTO webhook_deliveries (webhook_id, event_type, payload, attempt,"
                    " status_code, error, delivered) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (webhook_id, etype, Jsonb(data), attempt, status, error, error is None),
                )
        except Exception:
            log.exception("could not log a delivery of webhook %s", webhook_id)
