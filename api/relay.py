"""The outbox relay: sends committed outbox rows (Kafka events, MQTT messages to phones),
webhook deliveries and email notifications (``api/mailer.py``) after the commit.

It runs as a background task of every API process; a PostgreSQL advisory lock, held by
the relay's own listening connection, makes one replica the sender (another takes over
within ``LEADER_RETRY_S`` when that connection dies). It wakes on ``NOTIFY
fieldflow_outbox`` (sent by a trigger, delivered only when the writing transaction
commits, so a rolled-back row never wakes it and is never read), and polls every
``outbox_poll_s`` as a backstop and for retries. Rows go in id order; per (destination,
key) a failed row holds back the later ones until it is sent (order per key), with
exponential back-off per row; a row is marked sent only after the broker acked it. Sent
at least once: a crash between the ack and the mark sends it again, with the same
``event_id``, which consumers use to drop the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from api.mailer import EmailSender
from api.senders import KafkaSender, MqttSender
from api.webhooks import WebhookSender
from services.webhooks import backoff_s
from stack.settings import Settings
from store import outbox as q

log = logging.getLogger("fieldflow.api.relay")
LOCK_KEY = 0x6F7574626F78  # "outbox"
LEADER_RETRY_S = 3.0
PURGE_EVERY_S = 600.0


class Relay:
    def __init__(self, settings: Settings, pool: AsyncConnectionPool) -> None:
        self.settings = settings
        self.pool = pool
        self.kafka = KafkaSender(settings)
        self.mqtt = MqttSender(settings)
        self.webhooks = WebhookSender(settings, pool)
        self.email = EmailSender(settings, pool)
        self.leader = False
        self._wakes = {name: asyncio.Event()
                       for name in ("kafka", "mqtt", "webhooks", "email")}
        self._task: asyncio.Task[None] | None = None
        self._purge_at = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.webhooks.close()
        await asyncio.to_thread(self.kafka.close)
        self.mqtt.close()

    async def _run(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: reconnect, back off
                log.warning("relay: %s; retrying in %.1fs", str(exc).splitlines()[0]
                            if str(exc) else type(exc).__name__, delay)
            self.leader = False
            await asyncio.sleep(delay)
            delay = min(10.0, delay * 2)

    async def _lead(self) -> None:
        url = self.settings.resolved_database_url
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as lconn:
            while True:
                cur = await lconn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
                got = await cur.fetchone()
                if got and got[0]:
                    break
                await asyncio.sleep(LEADER_RETRY_S)
            await lconn.execute(f"LISTEN {q.CHANNEL}")
            self.leader = True
            log.info("relay: this process sends the outbox")
            self._wake_all()
            loops = [self._listen(lconn),
                     self._loop(self._wakes["kafka"], lambda: self.relay_once("kafka")),
                     self._loop(self._wakes["mqtt"], lambda: self.relay_once("mqtt")),
                     self._loop(self._wakes["webhooks"], self.webhooks.deliver_due),
                     self._loop(self._wakes["email"], self.email.deliver_due)]
            tasks = [asyncio.create_task(c) for c in loops]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for t in done:
                    t.result()  # re-raise: the outer loop reconnects
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _listen(self, lconn: psycopg.AsyncConnection[Any]) -> None:
        async for _ in lconn.notifies():
            self._wake_all()

    def _wake_all(self) -> None:
        for wake in self._wakes.values():
            wake.set()

    async def _loop(self, wake: asyncio.Event,
                    work: Callable[[], Coroutine[Any, Any, bool]]) -> None:
        """Run ``work`` until it has nothing left, then sleep until woken, until the
        next retry is due or ``outbox_poll_s`` (the backstop)."""
        while True:
            wake.clear()
            more = await work()
            if more:
                continue
            async with self.pool.connection() as conn:
                due = await q.next_due_in_s(conn)
            timeout = self.settings.outbox_poll_s if due is None else min(
                self.settings.outbox_poll_s, max(0.01, due))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)

    async def relay_once(self, channel: str) -> bool:
        """Send one batch of the channel's due rows; True when the batch was full (more
        may wait). Kafka and MQTT run apart: an outage of one holds up only its rows."""
        s = self.settings
        async with self.pool.connection() as conn:
            rows = await q.due_rows(conn, channel, s.outbox_batch)
        if not rows:
            return False
        if channel == "kafka" and time.monotonic() > self._purge_at:
            self._purge_at = time.monotonic() + PURGE_EVERY_S
            async with self.pool.connection() as conn:
                await q.purge_sent(conn, s.outbox_keep_sent_s)
        sender = self.kafka if channel == "kafka" else self.mqtt
        errors = await asyncio.to_thread(sender.send, rows)
        sent, failed = settle(rows, errors, s.outbox_backoff_s, s.outbox_backoff_max_s)
        async with self.pool.connection() as conn, conn.transaction():
            await q.mark_sent(conn, sent, datetime.now(UTC))
            await q.mark_failed(conn, failed)
        if failed:
            first = next(iter(failed.values()))
            log.warning("relay: %d of %d rows not sent (%s); retrying with back-off",
                        len(failed), len(rows), first[0])
        return len(rows) >= s.outbox_batch and not failed


def settle(rows: list[dict[str, Any]], errors: dict[int, str | None], base_s: float,
           max_s: float) -> tuple[list[int], dict[int, tuple[str, float]]]:
    """Which rows are sent and which failed (with their retry delay), keeping order per
    (destination, key): a row after a failed one of its key stays pending (untouched, so
    it goes again after the failed one, whatever happened to it this time)."""
    sent: list[int] = []
    failed: dict[int, tuple[str, float]] = {}
    held: set[tuple[str, str]] = set()
    for r in rows:
        k = (r["destination"], r["key"])
        if k in held:
            continue
        err = errors.get(r["id"], "not sent")
        if err is None:
            sent.append(r["id"])
        else:
            held.add(k)
            failed[r["id"]] = (err, backoff_s(r["attempts"] + 1, base_s, max_s))
    return sent, failed

