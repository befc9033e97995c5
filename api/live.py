"""The live feed: one Kafka consumer per API process fanned out to websocket clients.

Each client has a bounded queue; when it is full the oldest message is skipped, so a
client that never reads can slow neither the consumer nor the other clients.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from api.consumer import Record, ThreadedConsumer
from models.dedupe import RecentIds
from stack.settings import Settings

TYPES = {
    "telemetry.positions": "position",
    "events.geofence": "geofence",
    "events.eta": "eta",
    "events.alerts": "alert",
    "events.workorders": "workorder",
}
BBox = tuple[float, float, float, float]  # min lat, min lon, max lat, max lon


def parse_bbox(text: str | None) -> BBox | None:
    """``minlat,minlon,maxlat,maxlon`` -> tuple; ValueError when malformed."""
    if not text:
        return None
    parts = [float(x) for x in text.split(",")]
    if len(parts) != 4:
        raise ValueError("bbox needs minlat,minlon,maxlat,maxlon")
    a, b, c, d = parts
    if not (-90 <= a <= c <= 90 and -180 <= b <= d <= 180):
        raise ValueError("bbox out of range or min > max")
    return (a, b, c, d)


def in_bbox(bbox: BBox, lat: Any, lon: Any) -> bool:
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return True  # no coordinates: not a region question
    return bbox[0] <= lat <= bbox[2] and bbox[1] <= lon <= bbox[3]


@dataclass(eq=False)
class LiveClient:
    engineer: str | None = None
    bbox: BBox | None = None
    maxsize: int = 1000
    skipped: int = 0
    queue: asyncio.Queue[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(self.maxsize)

    def wants(self, msg: dict[str, Any]) -> bool:
        data = msg["data"]
        if self.engineer is not None:
            engineer = data.get("engineer_id") or data.get("details", {}).get("engineer_id")
            if engineer != self.engineer:
                return False
        return self.bbox is None or in_bbox(self.bbox, data.get("lat"), data.get("lon"))

    def offer(self, msg: dict[str, Any]) -> None:
        if not self.wants(msg):
            return
        while self.queue.full():
            self.queue.get_nowait()
            self.skipped += 1
        self.queue.put_nowait(msg)


class Hub:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clients: set[LiveClient] = set()
        self._seen = RecentIds()  # the relay sends at least once: drop repeats by event id
        self._consumer = ThreadedConsumer(
            bootstrap=settings.resolved_kafka_bootstrap,
            group_id=f"fieldflow-api-live-{os.getpid()}-{uuid.uuid4().hex[:8]}",
            topics=list(TYPES),
            handle=self.fanout,
            offset_reset="latest",
            name="live-consumer",
        )

    def start(self) -> None:
        self._consumer.start()

    def stop(self) -> None:
        self._consumer.stop()

    @property
    def ready(self) -> bool:
        return self._consumer.assigned.is_set()

    def register(self, client: LiveClient) -> LiveClient:
        self.clients.add(client)
        return client

    def unregister(self, client: LiveClient) -> None:
        self.clients.discard(client)

    def fanout(self, batch: list[Record]) -> None:
        for rec in batch:
            data = rec.get("data")
            if isinstance(data, dict) and not self._seen.first(data.get("event_id")):
                continue
            msg = {"type": TYPES.get(rec["topic"], rec["topic"]), **rec}
            for client in list(self.clients):
                client.offer(msg)
