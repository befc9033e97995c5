"""What use-cases tell the world: Kafka events, messages to phones, audit rows.

A use case runs in one unit of work: its connection, in its transaction, and the
``Publisher`` bound to that same connection (``services.outbox.Outbox``), which writes
every side effect as a row of that transaction. Nothing leaves before the commit; the
relay (``api/relay.py``) sends committed rows after it (DESIGN.md §7).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel


@dataclass(frozen=True)
class Audit:
    """Who changed what: one ``audit_log`` row, written with the change it records."""

    actor: str
    action: str
    entity: str
    entity_id: str
    details: dict[str, Any] = field(default_factory=dict)
    role: str = "system"


class Publisher(Protocol):
    async def event(self, topic: str, key: str, message: BaseModel) -> None:
        """Queue ``message`` for a Kafka topic (``events.*``) and its webhooks."""

    async def to_engineer(self, engineer_id: str, message: BaseModel) -> None:
        """Queue ``message`` for the engineer's phone (MQTT ``fieldflow/engineers/{id}/inbox``)."""

    async def audit(self, entry: Audit) -> None:
        """Write the audit row of the change."""


class RecordingPublisher:
    """Keeps what was published in memory (unit tests of pure wiring, dry runs)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, BaseModel]] = []
        self.inbox: list[tuple[str, BaseModel]] = []
        self.audits: list[Audit] = []

    async def event(self, topic: str, key: str, message: BaseModel) -> None:
        self.events.append((topic, key, message))

    async def to_engineer(self, engineer_id: str, message: BaseModel) -> None:
        self.inbox.append((engineer_id, message))

    async def audit(self, entry: Audit) -> None:
        self.audits.append(entry)
