"""Agents never let one bad record stop them: they dead-letter it with the reason."""

from __future__ import annotations

import base64
import logging

from models.codec import encode
from models.messages import DeadLetter
from models.timeutil import now_ms
from streams.app import topic

log = logging.getLogger("fieldflow.streams")
deadletters = topic("ingest.deadletter")


async def dead_letter(source_topic: str, value: bytes | None, reason: str) -> None:
    log.warning("dead-lettering a record from %s: %s", source_topic, reason)
    letter = DeadLetter(
        topic=source_topic,
        payload_b64=base64.b64encode(value or b"").decode(),
        reason=reason[:500],
        received_at=now_ms(),
    )
    await deadletters.send(key=source_topic.encode(), value=encode(letter))
