"""Kafka producer for the HTTP ingest endpoints: telemetry records and dead letters.

``send`` produces a whole request's records and returns once Kafka confirmed every one
(idempotent producer, ``acks=all``), so a 2xx answer means the positions are in the
topic, exactly as the MQTT bridge acks a message only after Kafka did.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from typing import Any

from confluent_kafka import KafkaError, Producer

from ingest.routing import Outgoing
from models.workorder import DomainError
from stack.settings import Settings


class NotDelivered(DomainError):
    """Kafka did not confirm a record in time (HTTP 503: the client retries)."""

    status_code = 503


class RecordProducer:
    def __init__(self, settings: Settings, *, delivery_timeout_s: float = 10.0) -> None:
        self._timeout = delivery_timeout_s
        self._producer = Producer(
            {
                "bootstrap.servers": settings.resolved_kafka_bootstrap,
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "batch.num.messages": 10000,
                "message.timeout.ms": int(delivery_timeout_s * 1000),
                "reconnect.backoff.max.ms": 5000,
            }
        )
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-records", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.05)

    async def send(self, records: Sequence[Outgoing]) -> None:
        """Produce ``records`` and wait until Kafka confirmed all; ``NotDelivered`` else."""
        if not records:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        left = [len(records)]  # written by the poller thread only
        errors: list[str] = []

        def settle() -> None:
            if done.done():
                return
            if errors:
                done.set_exception(NotDelivered(f"Kafka did not take the records: {errors[0]}"))
            elif left[0] == 0:
                done.set_result(None)

        def on_delivery(err: KafkaError | None, _msg: Any) -> None:
            if err is not None:
                errors.append(str(err))
            left[0] -= 1
            if err is not None or left[0] == 0:
                loop.call_soon_threadsafe(settle)

        for rec in records:
            while True:
                try:
                    self._producer.produce(
                        rec.topic, rec.value, key=rec.key.encode(), on_delivery=on_delivery
                    )
                    break
                except BufferError:  # the local queue is full: let the poller drain it
                    await asyncio.sleep(0.005)
        try:
            await asyncio.wait_for(done, self._timeout + 2)
        except TimeoutError:
            raise NotDelivered("Kafka did not confirm the records in time") from None

    def close(self) -> None:
        self._producer.flush(5)
        self._stop.set()
        self._poller.join(2)
