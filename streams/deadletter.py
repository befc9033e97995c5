"""Agents never let one bad record stop them: they dead-letter it with the reason."""

from __future__ import annotations

import base64
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from pydantic import BaseModel

from models.codec import DecodeError, decode, encode
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


M = TypeVar("M", bound=BaseModel)


async def decode_or_dead_letter(model: type[M], source_topic: str,
                                values: Sequence[bytes | None]) -> list[M]:
    """Decode a batch once; undecodable records go to the dead-letter topic."""
    good: list[M] = []
    for value in values:
        try:
            good.append(decode(model, value))
        except DecodeError as exc:
            await dead_letter(source_topic, value, str(exc))
    return good


async def guarded(stage: Callable[[list[M]], Awaitable[None]], batch: list[M],
                  source_topic: str) -> None:
    """Run one stage of an agent; a bug in it dead-letters the batch, never stops the agent.

    (Database outages never reach here: stages wait them out with ``retry_db``.)
    """
    if not batch:
        return
    name = getattr(stage, "__name__", None) or getattr(getattr(stage, "func", None), "__name__",
                                                        "stage")
    try:
        await stage(batch)
    except Exception as exc:
        log.exception("%s failed on a batch of %d from %s", name, len(batch), source_topic)
        for item in batch:
            await dead_letter(source_topic, encode(item),
                              f"internal: {name}: {type(exc).__name__}: {exc}")


async def run_stages(model: type[M], source_topic: str, values: Sequence[bytes | None],
                     stages: Sequence[Callable[[list[M]], Awaitable[None]]]) -> None:
    """Decode a batch once, then run each stage on it in order (each one ``guarded``)."""
    batch = await decode_or_dead_letter(model, source_topic, values)
    for stage in stages:
        await guarded(stage, batch, source_topic)
