"""How the streams publish what is not a stored change: ``events.eta`` (a live estimate,
recomputed with every position; the next one replaces a lost one).

Everything that is a stored change (work-order moves, alerts, geofence check-ins, the
messages to phones) is written to the outbox in the change's transaction
(``services.outbox``) and sent by the relay (``api/relay.py``).
"""

from __future__ import annotations

from pydantic import BaseModel

from models.codec import encode
from stack.settings import TOPICS
from streams.app import topic


class StreamPublisher:
    def __init__(self) -> None:
        self._topics = {name: topic(name) for name in TOPICS}

    async def event(self, topic_name: str, key: str, message: BaseModel) -> None:
        await self._topics[topic_name].send(key=key.encode(), value=encode(message))
