"""Notifications through the outbox, against a real PostgreSQL and a real SMTP server
(aiosmtpd): written in the event's transaction (or not at all), sent once by the relay's
email loop, retried with back-off while the server is down, dead after the attempts."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from api.mailer import EmailSender
from models.messages import AlertEvent, AlertState, Severity
from services.notifications import NotifyRules
from services.outbox import Outbox
from stack.procs import free_port
from stack.settings import Settings

RULES = NotifyRules(("a@x.test", "b@x.test"), frozenset({"sla_risk"}), "https://ff.example")


class Sink:
    def __init__(self) -> None:
        self.got: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, _s: SMTP, _ss: Session, envelope: Envelope) -> str:
        self.got.append((list(envelope.rcpt_tos), envelope.original_content or b""))
        return "250 OK"


def _alert(order: str) -> AlertEvent:
    return AlertEvent(device_id=order, fault_type="sla_risk", kind="sla_risk",
                      severity=Severity.MAJOR, dedup_key=f"sla:{order}",
                      state=AlertState.OPENED, ts=0, value=620.0,
                      message="ETA misses the SLA by 620s",
                      details={"work_order_id": order, "engineer_id": "eng-1"})


async def _rows(conn: psycopg.AsyncConnection[Any], sql: str, params: Any) -> list[Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


def test_written_with_the_event_or_not_at_all(database_url: str) -> None:
    async def run() -> None:
        order = f"WO-{uuid.uuid4().hex[:8]}"
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
            with pytest.raises(RuntimeError):
                async with c.transaction():
                    await Outbox(c, rules=RULES).event("events.alerts", order, _alert(order))
                    raise RuntimeError("the change fails")
            assert await _rows(c, "SELECT 1 FROM notifications WHERE work_order_id = %s",
                               (order,)) == []
            async with c.transaction():
                await Outbox(c, rules=RULES).event("events.alerts", order, _alert(order))
            notes = await _rows(c, "SELECT * FROM notifications WHERE work_order_id = %s"
                                " ORDER BY recipient", (order,))
            events = await _rows(c, "SELECT event_id FROM outbox WHERE key = %s", (order,))
        assert [n["recipient"] for n in notes] == ["a@x.test", "b@x.test"]
        assert {n["event_id"] for n in notes} == {events[0]["event_id"]}
        assert {n["state"] for n in notes} == {"pending"}
        assert notes[0]["link"] == f"https://ff.example/?order={order}"

    asyncio.run(run())


def test_sent_once_retried_while_down_and_dead_after_the_attempts(database_url: str) -> None:
    port = free_port()
    settings = Settings(home=Path("/nonexistent"), smtp_host="127.0.0.1", smtp_port=port,
                        notify_max_attempts=2, notify_backoff_s=0.01)

    async def pending(c: psycopg.AsyncConnection[Any]) -> None:
        await c.execute("UPDATE notifications SET next_attempt_at = now()"
                        " WHERE state = 'pending'")

    async def run() -> None:
        order = f"WO-{uuid.uuid4().hex[:8]}"
        async with AsyncConnectionPool(database_url, min_size=1, max_size=2, open=False,
                                       kwargs={"autocommit": True}) as pool:
            sender = EmailSender(settings, pool)
            async with pool.connection() as c:
                await c.execute("UPDATE notifications SET state = 'dead'"
                                " WHERE state = 'pending'")  # earlier tests' rows
                async with c.transaction():
                    await Outbox(c, rules=RULES).event("events.alerts", order, _alert(order))
            # The server is down: one attempt each, the error kept, still pending.
            await sender.deliver_due()
            async with pool.connection() as c:
                notes = await _rows(c, "SELECT * FROM notifications WHERE work_order_id = %s",
                                    (order,))
            assert {(n["state"], n["attempts"]) for n in notes} == {("pending", 1)}
            assert all(n["last_error"] for n in notes)
            # Up again: both accepted once; the next rounds send nothing more.
            sink = Sink()
            server = Controller(sink, hostname="127.0.0.1", port=port)
            server.start()
            try:
                async with pool.connection() as c:
                    await pending(c)
                await sender.deliver_due()
                await sender.deliver_due()
                async with pool.connection() as c:
                    await pending(c)
                    notes = await _rows(c, "SELECT * FROM notifications"
                                        " WHERE work_order_id = %s", (order,))
                await sender.deliver_due()
            finally:
                server.stop()
            assert sorted(to for to, _ in sink.got) == [["a@x.test"], ["b@x.test"]]
            assert all(f"?order={order}".encode() in raw for _, raw in sink.got)
            assert {(n["state"], n["attempts"]) for n in notes} == {("delivered", 2)}
            # A row that keeps failing is dead after notify_max_attempts.
            async with pool.connection() as c, c.transaction():
                other = f"WO-{uuid.uuid4().hex[:8]}"
                await Outbox(c, rules=RULES).event("events.alerts", other, _alert(other))
            for _ in range(3):
                await sender.deliver_due()
                async with pool.connection() as c:
                    await pending(c)
                    notes = await _rows(c, "SELECT * FROM notifications"
                                        " WHERE work_order_id = %s", (other,))
            assert {(n["state"], n["attempts"]) for n in notes} == {("dead", 2)}

    asyncio.run(run())
