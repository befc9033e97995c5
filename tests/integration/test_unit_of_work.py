"""Each use case is one unit of work: with a failure injected after any one of its SQL
statements, the outcome is the whole change with all its outbox rows (Kafka events,
messages to phones, webhook deliveries, audit row), or nothing at all; never a side
effect without its change, nor a change without its side effects.

Real PostgreSQL (``database_url`` fixture); the failure is a connection wrapper that
raises instead of running the n-th statement.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row

from models.workorder import Priority, Status
from services.assigning import assign_if_unchanged
from services.outbox import Outbox
from services.publisher import Audit
from services.transitions import transition_order
from services.workorders import NewOrder, create_order

TABLES = ("work_orders", "work_order_events", "outbox", "webhook_deliveries", "audit_log",
          "van_stock", "depot_stock")
ORDER_TYPE = "uow-test"  # an empty checklist: completion needs no answers

# The lifecycle walked by the property: (target, engineer, reason)
PATH = [
    (Status.ASSIGNED, "uow-e1", "dispatcher"),
    (Status.ACCEPTED, None, ""),
    (Status.EN_ROUTE, None, ""),
    (Status.ON_SITE, None, "by hand"),
    (Status.IN_PROGRESS, None, ""),
    (Status.WAITING_PARTS, None, ""),
    (Status.IN_PROGRESS, None, ""),
    (Status.COMPLETED, None, ""),
    (Status.SIGNED_OFF, None, ""),
    (Status.CLOSED, None, ""),
]


class Injected(Exception):
    """The failure the test injects."""


class _Cursor:
    def __init__(self, cur: Any, tick: Callable[[], None]) -> None:
        self._cur = cur
        self._tick = tick

    async def __aenter__(self) -> _Cursor:
        await self._cur.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> Any:
        return await self._cur.__aexit__(*exc)

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._tick()
        return await self._cur.execute(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cur, name)


class FailingConn:
    """Delegates to a real connection; raises ``Injected`` instead of running statement
    number ``fail_at`` (so statements 1 .. fail_at-1 ran)."""

    def __init__(self, conn: psycopg.AsyncConnection[Any], fail_at: int | None) -> None:
        self._conn = conn
        self.fail_at = fail_at
        self.count = 0

    def _tick(self) -> None:
        self.count += 1
        if self.fail_at is not None and self.count == self.fail_at:
            raise Injected(f"failure injected at statement {self.count}")

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        self._tick()
        return await self._conn.execute(*args, **kwargs)

    def cursor(self, *args: Any, **kwargs: Any) -> _Cursor:
        return _Cursor(self._conn.cursor(*args, **kwargs), self._tick)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


async def _rows(conn: psycopg.AsyncConnection[Any], sql: str, params: Any = ()) -> list[Any]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


async def snapshot(conn: psycopg.AsyncConnection[Any]) -> dict[str, list[str]]:
    out = {}
    for t in TABLES:
        rows = await _rows(conn, f"SELECT t::text AS r FROM {t} t ORDER BY 1")
        out[t] = [r["r"] for r in rows]
    return out


async def seed(conn: psycopg.AsyncConnection[Any]) -> None:
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO customers (id, name, sla_tier) VALUES ('uow-c', 'UoW', 'gold')"
            " ON CONFLICT DO NOTHING")
        await conn.execute(
            "INSERT INTO sites (id, customer_id, name, lat, lon) VALUES"
            " ('uow-s', 'uow-c', 'Site', 51.5, -0.12) ON CONFLICT DO NOTHING")
        await conn.execute(
            "INSERT INTO engineers (id, name, skills, status, home_lat, home_lon) VALUES"
            " ('uow-e1', 'E1', '{}', 'online', 51.5, -0.1) ON CONFLICT DO NOTHING")
        await conn.execute("INSERT INTO checklist_templates (order_type, items) VALUES"
                           " ('uow-test', '[]') ON CONFLICT DO NOTHING")
        await conn.execute("INSERT INTO parts (id, name) VALUES ('uow-p', 'Valve')"
                           " ON CONFLICT DO NOTHING")
        await conn.execute("INSERT INTO depots (id, name, lat, lon) VALUES"
                           " ('uow-d', 'Depot', 51.49, -0.11) ON CONFLICT DO NOTHING")
        await conn.execute("INSERT INTO depot_stock (depot_id, part_id, qty) VALUES"
                           " ('uow-d', 'uow-p', 1000000) ON CONFLICT DO NOTHING")
        await conn.execute("INSERT INTO webhooks (url, event_types, secret)"
                           " SELECT 'http://127.0.0.1:9/uow', '{workorder}', 'x' WHERE NOT"
                           " EXISTS (SELECT 1 FROM webhooks WHERE url = 'http://127.0.0.1:9/uow')")


def _new(priority: Priority = Priority.P3, parts: dict[str, int] | None = None) -> NewOrder:
    return NewOrder(title="UoW", priority=priority, order_type=ORDER_TYPE, site_id="uow-s",
                    required_parts=parts)


AUDIT = Audit("tester", "act", "work_order", "", {})


async def _order(conn: Any, oid: str) -> dict[str, Any]:
    return (await _rows(conn, "SELECT * FROM work_orders WHERE id = %s", (oid,)))[0]


# --- the use cases, each prepared up to the step under test ---------------------------

Step = Callable[[Any], Awaitable[Any]]


async def prepare(conn: psycopg.AsyncConnection[Any], case: str, index: int) -> Step:
    """Bring a fresh order to just before the step; return the step (taking a conn)."""
    pub = Outbox(conn)
    if case == "create":
        return lambda c: create_order(_new(), conn=c, publisher=Outbox(c), actor="t",
                                      audit=AUDIT)
    row, _ = await create_order(_new(), conn=conn, publisher=pub, actor="t")
    oid = row["id"]
    if case == "cancel":
        for target, eng, reason in PATH[:index]:
            await transition_order(oid, target, conn=conn, publisher=pub, actor="t",
                                   engineer_id=eng, reason=reason, manual_on_site=True)
        return lambda c: transition_order(oid, Status.CANCELLED, conn=c, publisher=Outbox(c),
                                          actor="t", reason="no longer needed", audit=AUDIT)
    if case == "reject":
        await transition_order(oid, Status.ASSIGNED, conn=conn, publisher=pub, actor="t",
                               engineer_id="uow-e1")
        return lambda c: transition_order(oid, Status.REJECTED, conn=c, publisher=Outbox(c),
                                          actor="t", reason="too far", audit=AUDIT)
    if case == "transition":
        for target, eng, reason in PATH[:index]:
            await transition_order(oid, target, conn=conn, publisher=pub, actor="t",
                                   engineer_id=eng, reason=reason, manual_on_site=True)
        target, eng, reason = PATH[index]
        return lambda c: transition_order(oid, target, conn=c, publisher=Outbox(c), actor="t",
                                          engineer_id=eng, reason=reason, manual_on_site=True,
                                          audit=AUDIT)
    # assign: index bit 0 = pre-empt a P4 of the engineer, bit 1 = book a depot pickup
    preempt, pickup = bool(index & 1), bool(index & 2)
    if pickup:
        row, _ = await create_order(_new(Priority.P1, {"uow-p": 1}), conn=conn,
                                    publisher=pub, actor="t")
    victim = None
    if preempt:
        p4, _ = await create_order(_new(Priority.P4), conn=conn, publisher=pub, actor="t")
        await transition_order(p4["id"], Status.ASSIGNED, conn=conn, publisher=pub, actor="t",
                               engineer_id="uow-e1")
        victim = p4["id"]
    snap = await _order(conn, row["id"])
    return lambda c: assign_if_unchanged(
        snap, "uow-e1", conn=c, publisher=Outbox(c), now_ms=snap["created_at"].timestamp()
        * 1000 // 1, actor="t", reason="test", preempts=victim,
        depot_id="uow-d" if pickup else None, audit=AUDIT)


def _added(before: dict[str, list[str]], after: dict[str, list[str]], table: str) -> list[Any]:
    old = set(before[table])
    return [r for r in after[table] if r not in old]


async def check_whole_change(conn: Any, before: dict[str, list[str]], case: str,
                             index: int) -> None:
    after = await snapshot(conn)
    events = await _rows(conn, "SELECT e.* FROM work_order_events e ORDER BY id DESC LIMIT 5")
    new_events = len(_added(before, after, "work_order_events"))
    assert new_events >= 1, "the change happened"
    outbox = await _rows(conn, "SELECT * FROM outbox ORDER BY id DESC LIMIT %s",
                         (len(_added(before, after, "outbox")),))
    kafka = [r for r in outbox if r["channel"] == "kafka"]
    mqtt = [r for r in outbox if r["channel"] == "mqtt"]
    # one Kafka event per stored event, for the same moves
    assert len(kafka) == new_events
    moved = sorted((json.loads(bytes(r["payload"]))["work_order_id"],
                    json.loads(bytes(r["payload"]))["to_status"]) for r in kafka)
    assert moved == sorted((e["work_order_id"], e["to_status"]) for e in events[:new_events])
    for r in kafka:  # the event carries the row's stable id
        assert json.loads(bytes(r["payload"]))["event_id"] == str(r["event_id"])
    # one webhook delivery per event for the one 'workorder' subscription
    assert len(_added(before, after, "webhook_deliveries")) == new_events
    assert len(_added(before, after, "audit_log")) == 1
    assigned = sum(1 for e in events[:new_events] if e["to_status"] == "assigned")
    withdrawn = 1 if case == "assign" and index & 1 else 0
    assert len(mqtt) == assigned + withdrawn
    if case == "assign" and index & 2:  # the pickup is booked with the assignment
        order = (await _rows(conn, "SELECT pickup_parts FROM work_orders WHERE id ="
                             " (SELECT work_order_id FROM work_order_events ORDER BY id DESC"
                             " LIMIT 1)"))[0]
        assert order["pickup_parts"] == {"uow-p": 1}


async def statements_of(conn: psycopg.AsyncConnection[Any], step: Step) -> int:
    """How many statements the step runs (a dry run, rolled back)."""
    probe = FailingConn(conn, None)
    async with conn.transaction(force_rollback=True):
        await step(probe)
    return probe.count


async def scenario(url: str, case: str, index: int, pick: Callable[[int], int]) -> None:
    """Prepare the case, count its statements n, inject a failure before statement
    ``pick(n)`` (n + 1: no failure), check all or nothing."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await seed(conn)
        step = await prepare(conn, case, index)
        fail_at = pick(await statements_of(conn, step))
        before = await snapshot(conn)
        failing = FailingConn(conn, fail_at)
        try:
            await step(failing)
        except Injected:
            assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            assert await snapshot(conn) == before, (
                f"{case}[{index}]: failed at statement {fail_at}, yet left something")
            await step(FailingConn(conn, None))  # and without the failure: all of it
        else:
            assert failing.count < fail_at, "the failure point was never reached"
        await check_whole_change(conn, before, case, index)


ALL_CASES = [("create", 0), *(("transition", i) for i in range(len(PATH))),
             *(("cancel", i) for i in range(5)), ("reject", 0),
             *(("assign", i) for i in range(4))]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(ALL_CASES), data=st.data())
def test_a_use_case_commits_all_of_its_side_effects_or_nothing(
    database_url: str, case: tuple[str, int], data: st.DataObject
) -> None:
    """Any use case, a failure before any one of its statements (or none)."""
    asyncio.run(scenario(database_url, case[0], case[1],
                         lambda n: data.draw(st.integers(1, n + 1), label="fail_at")))


@pytest.mark.slow
@pytest.mark.parametrize("case", ALL_CASES, ids=[f"{c}-{i}" for c, i in ALL_CASES])
def test_every_statement_of_every_use_case_is_a_failure_point(
    database_url: str, case: tuple[str, int]
) -> None:
    """Exhaustively, per use case: a failure before each of its statements in turn."""

    async def count() -> int:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
            await seed(c)
            return await statements_of(c, await prepare(c, *case))

    n = asyncio.run(count())
    assert n >= 3
    for k in range(1, n + 1):
        asyncio.run(scenario(database_url, case[0], case[1], lambda _n, k=k: k))


def test_a_side_effect_outside_a_transaction_is_refused(database_url: str) -> None:
    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c:
            from services.outbox import OutsideTransaction
            from services.transitions import Assignment

            with pytest.raises(OutsideTransaction):
                await Outbox(c).to_engineer("uow-e1", Assignment(
                    work_order_id=str(uuid.uuid4()), title="x", priority="P3", site_id=None,
                    lat=None, lon=None, sla_due=None))

    asyncio.run(run())


def test_an_outbox_of_another_connection_is_refused_and_nothing_changes(
    database_url: str,
) -> None:
    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as c, \
                await psycopg.AsyncConnection.connect(database_url, autocommit=True) as other:
            from services.outbox import OutsideTransaction

            await seed(c)
            row, _ = await create_order(_new(), conn=c, publisher=Outbox(c), actor="t")
            before = await snapshot(c)
            with pytest.raises(OutsideTransaction):
                await transition_order(row["id"], Status.ASSIGNED, conn=c,
                                       publisher=Outbox(other), actor="t",
                                       engineer_id="uow-e1")
            assert await snapshot(c) == before

    asyncio.run(run())
