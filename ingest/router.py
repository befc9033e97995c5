"""Routes an MQTT message to the adapter for its topic (DESIGN.md §5).

``Router.route`` never raises: it returns a ``RouteResult`` with either the Kafka
records to write or exactly one dead letter (with its reason and ``RejectKind``), plus
any MQTT commands to publish (Sparkplug rebirth requests). The bridge writes the records
or the dead letter, publishes the commands, and then acks the MQTT message.

Order of checks: topic (length, shape, ids) -> rate limit -> payload size -> adapter
(format, schema, ranges). Sparkplug messages are always decoded, so births, deaths and
``seq`` stay consistent, and only their NDATA/DDATA records are rate limited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ingest import native, owntracks
from ingest.owntracks import OwnTracksDirectory
from ingest.ratelimit import RateLimiter
from ingest.routing import Outgoing, Rejected, RejectKind, dead_letter
from ingest.sparkplug import SparkplugDecoder
from ingest.sparkplug_codec import NAMESPACE
from ingest.validation import MAX_TOPIC_LENGTH, check_id
from models.messages import DeadLetter

# What the bridge should subscribe to: the accepted topics of DESIGN.md §5 and no more
# (``spBv1.0/#`` would also deliver the bridge's own NCMDs and host STATE messages).
SUBSCRIPTIONS = (
    "fieldflow/engineers/+/location",
    "fieldflow/devices/+/telemetry",
    "owntracks/+/+",
    "owntracks/+/+/event",
    f"{NAMESPACE}/+/NBIRTH/+",
    f"{NAMESPACE}/+/NDATA/+",
    f"{NAMESPACE}/+/NDEATH/+",
    f"{NAMESPACE}/+/DBIRTH/+/+",
    f"{NAMESPACE}/+/DDATA/+/+",
    f"{NAMESPACE}/+/DDEATH/+/+",
)
_DATA_TYPES = frozenset({"NDATA", "DDATA"})
MAX_AHEAD_S = 86_400.0  # as the API's ``ts`` on transitions


@dataclass(frozen=True, slots=True)
class RouteResult:
    """Records for Kafka, or one dead letter; plus MQTT commands (topic, payload)."""

    records: list[Outgoing] = field(default_factory=list)
    dead: DeadLetter | None = None
    dead_kind: RejectKind | None = None
    commands: list[tuple[str, bytes]] = field(default_factory=list)


class Router:
    """The bridge's pure core: adapters, validation, rate limits, Sparkplug state."""

    def __init__(
        self,
        owntracks_directory: OwnTracksDirectory | None = None,
        sparkplug_decoder: SparkplugDecoder | None = None,
        limiter: RateLimiter | None = None,
        max_ahead_s: float = MAX_AHEAD_S,
    ) -> None:
        self.owntracks = owntracks_directory or OwnTracksDirectory()
        self.sparkplug = sparkplug_decoder or SparkplugDecoder()
        self.limiter = limiter
        self.max_ahead_ms = int(max_ahead_s * 1000)

    @classmethod
    def from_settings(
        cls,
        owntracks_devices: Mapping[str, str],
        *,
        rate_per_s: float | None = None,
        burst: float | None = None,
        max_ahead_s: float = MAX_AHEAD_S,
    ) -> Router:
        """A router from settings values (``owntracks_devices``; optional rate limit)."""
        limiter = None
        if rate_per_s is not None:
            limiter = RateLimiter(rate_per_s, burst if burst is not None else rate_per_s * 10)
        return cls(OwnTracksDirectory(owntracks_devices), SparkplugDecoder(), limiter,
                   max_ahead_s)

    def route(self, topic: str, payload: bytes | bytearray, received_at: int) -> RouteResult:
        """Never raises: every message ends as records or as one dead letter."""
        commands: list[tuple[str, bytes]] = []
        try:
            data = bytes(payload)
            try:
                result = self._route(topic, data, received_at, commands)
                self._check_clock(result.records, received_at)
                return result
            except Rejected as exc:
                return rejection(
                    topic, data, str(exc), kind=exc.kind, received_at=received_at,
                    commands=commands,
                )
        except Exception as exc:  # a bug must cost one message, never the bridge
            reason = f"internal: {type(exc).__name__}: {exc}"
            return rejection(
                topic, payload, reason, kind=RejectKind.INTERNAL, received_at=received_at,
                commands=commands,
            )

    def _route(
        self, topic: str, payload: bytes, received_at: int, commands: list[tuple[str, bytes]]
    ) -> RouteResult:
        if not isinstance(topic, str) or len(topic) > MAX_TOPIC_LENGTH or "\x00" in topic:
            raise Rejected("topic too long or not valid", RejectKind.NO_ROUTE)
        parts = topic.split("/")
        if parts[0] == NAMESPACE:
            result = self.sparkplug.decode(topic, payload, received_at)
            commands.extend(result.commands)
            if result.rejected is not None:
                raise result.rejected
            if result.message_type in _DATA_TYPES:
                self._throttle("spb/" + "/".join(parts[1:2] + parts[3:]), received_at)
            return RouteResult(result.records, commands=commands)
        if parts[0] == owntracks.ROOT and owntracks.parse_topic(topic) is not None:
            self._throttle("owntracks/" + "/".join(parts[1:3]), received_at)
            return RouteResult([owntracks.parse(topic, payload, received_at, self.owntracks)])
        if len(parts) == 4 and parts[0] == "fieldflow":
            kind, ident, leaf = parts[1], parts[2], parts[3]
            if kind == "engineers" and leaf == "location":
                check_id(ident, "engineer id")
                self._throttle(f"engineer/{ident}", received_at)
                return RouteResult([native.parse_position(ident, payload, received_at)])
            if kind == "devices" and leaf == "telemetry":
                check_id(ident, "device id")
                self._throttle(f"device/{ident}", received_at)
                return RouteResult([native.parse_reading(ident, payload, received_at)])
        raise Rejected(f"no adapter for topic {topic[:200]!r}", RejectKind.NO_ROUTE)

    def _check_clock(self, records: list[Outgoing], received_at: int) -> None:
        """Event times far ahead of the bridge's clock are refused: the streams run their
        timers (offline sweeps, dwell, SLAs) on the newest event time they have seen, so
        one device with a wrong clock must not fast-forward the whole platform."""
        limit = received_at + self.max_ahead_ms
        for record in records:
            if record.ts is not None and record.ts > limit:
                raise Rejected(f"timestamp {(record.ts - received_at) / 1000:.0f} s ahead of"
                               f" the bridge clock (at most {self.max_ahead_ms // 1000} s)",
                               RejectKind.INVALID)

    def _throttle(self, key: str, received_at: int) -> None:
        if self.limiter is not None and not self.limiter.allow(key, received_at):
            raise Rejected(f"rate limited: {key} is over its rate", RejectKind.RATE_LIMITED)


def rejection(
    topic: object,
    payload: object,
    reason: str,
    *,
    kind: RejectKind,
    received_at: object,
    commands: list[tuple[str, bytes]],
) -> RouteResult:
    """The dead-letter answer; falls back to an unvalidated one if the inputs are unusable."""
    try:
        letter = dead_letter(str(topic), bytes(payload), reason, int(received_at))  # type: ignore[call-overload]
    except Exception:
        letter = DeadLetter.model_construct(
            topic=str(topic)[:512], payload_b64="", reason=reason[:500], received_at=0
        )
    return RouteResult([], letter, kind, commands)


_default = Router()


def route(topic: str, payload: bytes, received_at: int) -> list[Outgoing] | DeadLetter:
    """Compatibility wrapper for native and OwnTracks-less use (no commands returned)."""
    result = _default.route(topic, payload, received_at)
    return result.dead if result.dead is not None else result.records
