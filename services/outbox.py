"""The outbox writer: the ``Publisher`` of a unit of work.

Bound to the use case's connection, it writes each side effect as a row of the use
case's transaction (``store.outbox``): a Kafka event (with a fresh ``event_id`` put into
the message itself), the webhook deliveries that event asks for (one row per matching
subscription), the notifications to people it asks for (one row per recipient, by the
rules of ``services.notifications``), a message to an engineer's inbox, an audit row.
Writing outside a transaction is refused: it would be a side effect that could outlive a
rolled-back change, or a change committed without it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from models.codec import encode
from services.notifications import NotifyRules, notifications_for
from services.publisher import Audit
from services.webhooks import event_type
from stack.settings import get_settings
from store import audit
from store import notifications as notes
from store import outbox as q


class OutsideTransaction(RuntimeError):
    """A side effect written outside the transaction of its change (a programming error)."""


def inbox_topic(engineer_id: str) -> str:
    return f"fieldflow/engineers/{engineer_id}/inbox"


def with_event_id(message: BaseModel, event_id: uuid.UUID) -> BaseModel:
    """The message carrying ``event_id`` when its model has that field."""
    if "event_id" in type(message).model_fields:
        return message.model_copy(update={"event_id": str(event_id)})
    return message


class Outbox:
    def __init__(self, conn: AsyncConnection[Any],
                 new_id: Callable[[], uuid.UUID] = uuid.uuid4,
                 rules: NotifyRules | None = None) -> None:
        self.conn = conn
        self._new_id = new_id  # the benchmark notes the ids it makes
        self.rules = rules if rules is not None else NotifyRules.from_settings(get_settings())

    def _in_transaction(self, what: str) -> None:
        if self.conn.info.transaction_status != TransactionStatus.INTRANS:
            raise OutsideTransaction(f"{what} written outside the transaction of its change")

    async def event(self, topic: str, key: str, message: BaseModel) -> None:
        self._in_transaction(f"event on {topic}")
        event_id = self._new_id()
        raw = encode(with_event_id(message, event_id))
        await q.enqueue(self.conn, event_id, "kafka", topic, key, raw)
        data = json.loads(raw)
        etype = event_type(topic, data)
        if etype is not None:
            await q.enqueue_webhooks(self.conn, event_id, etype, data)
        wanted = notifications_for(self.rules, topic, data)
        if wanted:
            await notes.enqueue(self.conn, event_id, [vars(n) for n in wanted])

    async def to_engineer(self, engineer_id: str, message: BaseModel) -> None:
        self._in_transaction(f"message to {engineer_id}")
        event_id = self._new_id()
        raw = with_event_id(message, event_id).model_dump_json().encode()
        await q.enqueue(self.conn, event_id, "mqtt", inbox_topic(engineer_id), engineer_id, raw)

    async def audit(self, entry: Audit) -> None:
        self._in_transaction(f"audit of {entry.action} {entry.entity} {entry.entity_id}")
        await audit.record(self.conn, entry, entry.action, entry.entity, entry.entity_id,
                           to_jsonable_python(entry.details))
