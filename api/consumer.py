"""A Kafka consumer on its own thread that hands batches of decoded records to asyncio."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer

log = logging.getLogger("fieldflow.api.consumer")

Record = dict[str, Any]  # {"topic", "key", "data"}


class ThreadedConsumer:
    """Polls ``topics`` and calls ``handle(batch)`` on the event loop, never blocking it."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        topics: list[str],
        handle: Callable[[list[Record]], None],
        offset_reset: str = "latest",
        name: str = "consumer",
    ) -> None:
        self._conf = {
            "bootstrap.servers": bootstrap,
            "group.id": group_id,
            "auto.offset.reset": offset_reset,
            "enable.auto.commit": True,
            "session.timeout.ms": 6000,
            "max.poll.interval.ms": 10000,
            "heartbeat.interval.ms": 1000,
        }
        self._topics = topics
        self._handle = handle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.assigned = threading.Event()

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    def _run(self) -> None:
        consumer = Consumer(self._conf)
        consumer.subscribe(self._topics, on_assign=lambda _c, _p: self.assigned.set())
        try:
            while not self._stop.is_set():
                msgs = consumer.consume(num_messages=500, timeout=0.2)
                batch = [rec for m in msgs if (rec := _decode(m)) is not None]
                if batch and self._loop is not None and not self._loop.is_closed():
                    self._loop.call_soon_threadsafe(self._safe_handle, batch)
        except Exception:
            log.exception("consumer %s stopped", self._conf["group.id"])
        finally:
            consumer.close()

    def _safe_handle(self, batch: list[Record]) -> None:
        try:
            self._handle(batch)
        except Exception:
            log.exception("handling a batch of %d records failed", len(batch))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _decode(msg: Any) -> Record | None:
    if msg.error() is not None:
        return None
    try:
        data = json.loads(msg.value())
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    key = msg.key()
    return {
        "topic": msg.topic(),
        "key": key.decode(errors="replace") if key else None,
        "data": data,
    }
