"""What use-cases need to tell the world: Kafka events and messages to phones.

The API and the streams each pass their own implementation (DESIGN.md §2, services/).
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel


class Publisher(Protocol):
    async def event(self, topic: str, key: str, message: BaseModel) -> None:
        """Publish ``message`` on a Kafka topic (``events.*``)."""

    async def to_engineer(self, engineer_id: str, message: BaseModel) -> None:
        """Send ``message`` to the engineer's phone (MQTT ``fieldflow/engineers/{id}/inbox``)."""


class RecordingPublisher:
    """Keeps what was published in memory (tests, and dry runs of use-cases)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, BaseModel]] = []
        self.inbox: list[tuple[str, BaseModel]] = []

    async def event(self, topic: str, key: str, message: BaseModel) -> None:
        self.events.append((topic, key, message))

    async def to_engineer(self, engineer_id: str, message: BaseModel) -> None:
        self.inbox.append((engineer_id, message))
