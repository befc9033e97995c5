"""A Kafka consumer on its own thread that hands batches of decoded records to asyncio."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaException, TopicPartition

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
        self._pinned = threading.Event()
        # "latest" read when the group's join finally assigns the partitions (seconds on
        # tansu) would skip what was produced meanwhile: a fresh stack's first position
        # never reached /ws/live. So the start is each partition's end *now*, at start().
        self._start_at: dict[tuple[str, int], int] = {}

    def start(self, pin_timeout_s: float = 10.0) -> None:
        """Start consuming; with ``latest``, from the topics' ends as they are now (waits
        up to ``pin_timeout_s`` for the broker to tell them, else falls back to latest)."""
        self._loop = asyncio.get_running_loop()
        self._thread.start()
        if self._conf["auto.offset.reset"] == "latest":
            self._pinned.wait(pin_timeout_s)

    def _pin(self, consumer: Consumer) -> None:
        try:
            for topic in self._topics:
                meta = consumer.list_topics(topic, timeout=5).topics.get(topic)
                for part in (meta.partitions if meta is not None else {}):
                    _low, high = consumer.get_watermark_offsets(
                        TopicPartition(topic, part), timeout=5)
                    self._start_at[(topic, part)] = high
        except KafkaException as exc:
            log.warning("consumer %s: topic ends unknown (%s); starting from the latest at"
                        " assignment", self._conf["group.id"], exc)
        finally:
            self._pinned.set()

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        for tp in partitions:  # once: a later rebalance resumes from where it was
            start = self._start_at.pop((tp.topic, tp.partition), None)
            if start is not None:
                tp.offset = start
        consumer.assign(partitions)
        self.assigned.set()

    def _run(self) -> None:
        consumer = Consumer(self._conf)
        if self._conf["auto.offset.reset"] == "latest":
            self._pin(consumer)
        consumer.subscribe(self._topics, on_assign=self._on_assign)
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
