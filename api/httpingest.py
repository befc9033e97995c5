"""Phones over HTTP: the same adapters, validation and dead letter as the MQTT bridge.

Each endpoint turns a request into Kafka records with the bridge's own code (the native
adapter through ``ingest.router.Router``, ``ingest.owntracks``, ``ingest.osmand``),
writes the good ones to ``telemetry.positions`` (key: engineer id) and every bad one to
``ingest.deadletter`` (topic ``http:<path>``, the payload, the reason), waits for Kafka's
confirmation of both, and only then answers: 2xx means stored in Kafka.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import orjson

from api.records import RecordProducer
from ingest import osmand, owntracks
from ingest.owntracks import OwnTracksDirectory
from ingest.router import Router
from ingest.routing import TOPIC_DEADLETTER, Outgoing, Rejected, RejectKind, dead_letter
from ingest.validation import ID_RE, MAX_PAYLOAD_BYTES
from models.codec import encode
from models.timeutil import now_ms
from stack.settings import Settings

# HTTP status of a rejected request, by why it was rejected.
STATUS = {
    RejectKind.MALFORMED: 400,
    RejectKind.TOO_LARGE: 413,
    RejectKind.UNKNOWN_DEVICE: 404,
    RejectKind.RATE_LIMITED: 429,
}


@dataclass
class Outcome:
    """What one request became: records accepted, and the reasons of those refused."""

    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    status: int = 202

    @property
    def message(self) -> str:
        first = self.rejected[0]["reason"] if self.rejected else ""
        if len(self.rejected) == 1 and not self.accepted:
            return str(first)
        return f"{len(self.rejected)} rejected, {self.accepted} accepted; first: {first}"


def _osmand_parse(content_type: str, query: str, body: bytes) -> osmand.OsmAndRequest:
    if content_type.startswith("application/json"):
        return osmand.read_json(body)
    params = parse_qsl(query, keep_blank_values=True)
    if not params and body:
        params = parse_qsl(body.decode("ascii", "replace"), keep_blank_values=True)
    return osmand.read_query(params)


class HttpIngest:
    """One per API process (``app.state.http_ingest``)."""

    def __init__(self, settings: Settings, producer: RecordProducer) -> None:
        self.producer = producer
        self.router = Router.from_settings(
            {}, rate_per_s=settings.device_rate_limit_per_s, burst=settings.device_rate_burst,
            max_ahead_s=settings.max_event_ahead_s,
        )
        self.max_ahead_ms = int(settings.max_event_ahead_s * 1000)
        self.max_batch = settings.http_ingest_max_batch
        self.max_body = max(MAX_PAYLOAD_BYTES, settings.http_ingest_max_batch * 512)

    max_json_body = MAX_PAYLOAD_BYTES  # OwnTracks: one message, as on MQTT
    max_osmand_body = MAX_PAYLOAD_BYTES * 16  # a Traccar batch of locations

    # -- shared ---------------------------------------------------------------
    def _check(self, record: Outgoing, key: str, received_at: int) -> Outgoing:
        """The bridge's rate limit and clock check for one record."""
        limiter = self.router.limiter
        if limiter is not None and not limiter.allow(key, received_at):
            raise Rejected(f"rate limited: {key} is over its rate", RejectKind.RATE_LIMITED)
        if record.ts is not None and record.ts > received_at + self.max_ahead_ms:
            raise Rejected(f"timestamp {(record.ts - received_at) / 1000:.0f} s ahead of the"
                           f" server clock (at most {self.max_ahead_ms // 1000} s)")
        return record

    async def reject(self, path: str, payload: bytes, exc: Rejected, received_at: int) -> Outcome:
        """Dead-letter a whole request; the outcome carries its HTTP status."""
        await self._send([], [(payload, str(exc))], path, received_at)
        return Outcome(0, [{"reason": str(exc)}], STATUS.get(exc.kind, 422))

    async def refuse(self, path: str, payload: bytes, reason: str, *, status: int) -> Outcome:
        """Dead-letter a request refused outside the adapters (an upload, a body too
        large); the outcome carries ``status``."""
        kind = RejectKind.TOO_LARGE if status == 413 else RejectKind.INVALID
        outcome = await self.reject(path, payload, Rejected(reason, kind), now_ms())
        outcome.status = status
        return outcome

    async def _send(self, records: list[Outgoing], bad: Iterable[tuple[bytes, str]], path: str,
                    received_at: int) -> None:
        topic = f"http:{path}"
        letters = [Outgoing(TOPIC_DEADLETTER, topic, encode(dead_letter(topic, payload, reason,
                                                                          received_at)))
                   for payload, reason in bad]
        await self.producer.send([*records, *letters])

    # -- POST /api/v1/positions -------------------------------------------------
    def _items(self, body: bytes) -> list[Any]:
        if len(body) > self.max_body:
            raise Rejected(f"body of {len(body)} bytes exceeds {self.max_body}",
                           RejectKind.TOO_LARGE)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Rejected(f"not JSON: {exc}"[:200], RejectKind.MALFORMED) from None
        items = [data] if isinstance(data, dict) else data
        if not isinstance(items, list) or not items:
            raise Rejected("body must be a position object or a non-empty array of them",
                           RejectKind.MALFORMED)
        if len(items) > self.max_batch:
            raise Rejected(f"{len(items)} positions exceed the batch limit {self.max_batch}",
                           RejectKind.TOO_LARGE)
        return items

    async def native(self, engineer_id: str, body: bytes, path: str) -> Outcome:
        """One native position object or an array of them, for the token's engineer."""
        received = now_ms()
        try:
            items = self._items(body)
        except Rejected as exc:
            return await self.reject(path, body[:MAX_PAYLOAD_BYTES], exc, received)
        topic = f"fieldflow/engineers/{engineer_id}/location"
        records: list[Outgoing] = []
        bad: list[tuple[bytes, str]] = []
        outcome = Outcome()
        for index, item in enumerate(items):
            raw = orjson.dumps(item)
            result = self.router.route(topic, raw, received)
            if result.dead is not None:
                outcome.rejected.append({"index": index, "reason": result.dead.reason})
                bad.append((raw, f"item {index}: {result.dead.reason}"))
            else:
                records.extend(result.records)
        await self._send(records, bad, path, received)
        outcome.accepted = len(records)
        outcome.status = 422 if bad else 202
        return outcome

    # -- /ingest/osmand ----------------------------------------------------------
    async def osmand_request(self, content_type: str, query: str, body: bytes, path: str,
                             engineer_for: Callable[[str], Awaitable[str | None]]) -> Outcome:
        """Traccar's own rule: a JSON content type is the JSON shape; otherwise the query
        string, or a form-encoded body when the URL has none. ``engineer_for`` maps the
        device id to an engineer (their ``tracker_id``)."""
        received = now_ms()
        payload = body if body else query.encode()
        try:
            parsed = _osmand_parse(content_type, query, body)
            engineer_id = await engineer_for(parsed.tracker_id)
        except Rejected as exc:
            return await self.reject(path, payload, exc, received)
        if engineer_id is None:
            unknown = Rejected(f"unknown device id {parsed.tracker_id!r}: set it as an"
                               " engineer's tracker_id", RejectKind.UNKNOWN_DEVICE)
            return await self.reject(path, payload, unknown, received)
        return await self.osmand(parsed, engineer_id, payload, path, received)

    async def osmand(self, request: osmand.OsmAndRequest, engineer_id: str, payload: bytes,
                     path: str, received_at: int) -> Outcome:
        records: list[Outgoing] = []
        bad: list[tuple[bytes, str]] = []
        outcome = Outcome(status=200)
        for index, fix in enumerate(request.fixes):
            try:
                records.append(self._check(osmand.to_record(engineer_id, fix, received_at),
                                           f"engineer/{engineer_id}", received_at))
            except Rejected as exc:
                where = f"fix {index}: " if len(request.fixes) > 1 else ""
                outcome.rejected.append({"index": index, "reason": f"{where}{exc}"})
                bad.append((payload, f"{where}{exc}"))
                outcome.status = STATUS.get(exc.kind, 422)
        await self._send(records, bad, path, received_at)
        outcome.accepted = len(records)
        return outcome

    # -- POST /ingest/owntracks --------------------------------------------------
    async def owntracks(self, engineer_id: str, device: str | None, body: bytes,
                        path: str) -> Outcome:
        """OwnTracks HTTP mode: the MQTT adapter with the Basic-auth user as the engineer.
        Non-telemetry ``_type``s are dead-lettered as on MQTT, and answered 200 ``[]``."""
        received = now_ms()
        device = device if device and ID_RE.fullmatch(device) else "http"
        directory = OwnTracksDirectory({f"{engineer_id}/{device}": engineer_id})
        try:
            record = owntracks.parse(f"owntracks/{engineer_id}/{device}", body, received,
                                     directory)
            record = self._check(record, f"engineer/{engineer_id}", received)
        except Rejected as exc:
            outcome = await self.reject(path, body[:MAX_PAYLOAD_BYTES], exc, received)
            if exc.kind == RejectKind.UNSUPPORTED:
                outcome.status = 200
            return outcome
        await self._send([record], [], path, received)
        return Outcome(1, [], 200)
