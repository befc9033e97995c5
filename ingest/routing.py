"""What an adapter returns: records bound for Kafka, or a dead letter with its reason.

Every rejection carries a ``RejectKind``: a short, stable class used as the Prometheus
label of the dead-letter counter (free-text reasons would explode label cardinality),
while the human reason with the details goes into the dead letter itself.
"""

from __future__ import annotations

import base64
import hashlib
from enum import StrEnum
from typing import NamedTuple

from models.messages import DeadLetter

TOPIC_POSITIONS = "telemetry.positions"
TOPIC_READINGS = "telemetry.readings"
TOPIC_DEADLETTER = "ingest.deadletter"


class Outgoing(NamedTuple):
    """One Kafka record: topic, key (engineer or device id), encoded value, event time.

    A NamedTuple: one is made per message on the bridge's hot path, and a tuple is
    several times cheaper to build than a frozen dataclass."""

    topic: str
    key: str
    value: bytes
    ts: int | None = None  # the message's event time (epoch ms), checked against the clock


class RejectKind(StrEnum):
    """Why a message went to the dead-letter topic, as a bounded set of classes."""

    NO_ROUTE = "no_route"  # no adapter for the topic, or a malformed topic
    TOO_LARGE = "too_large"  # payload, metric count or state limits exceeded
    OVERSIZE = "oversize"  # above the bridge's MQTT message limit (head kept, never parsed)
    KAFKA_REFUSED = "kafka_refused"  # Kafka refused a record for good (e.g. too large)
    MALFORMED = "malformed"  # not JSON / not protobuf / wrong shape
    INVALID = "invalid"  # well-formed but fails validation (ranges, timestamps, ids)
    UNKNOWN_DEVICE = "unknown_device"  # OwnTracks user/device not in the directory
    UNSUPPORTED = "unsupported"  # a known format's message type that is not telemetry
    SPARKPLUG_STATE = "sparkplug_state"  # unknown alias / no birth: rebirth requested
    STALE = "stale"  # e.g. an NDEATH from an earlier session (bdSeq mismatch)
    RATE_LIMITED = "rate_limited"  # the device exceeded its token bucket
    INTERNAL = "internal"  # a bug: an unexpected exception while routing


class Rejected(ValueError):
    """Raised by adapters for input that must go to the dead-letter topic."""

    def __init__(self, reason: str, kind: RejectKind = RejectKind.INVALID) -> None:
        super().__init__(reason)
        self.kind = kind


# A dead letter keeps this much of its payload; a longer one is described by its size
# and SHA-256 (one device's huge message must not become a huge Kafka record).
DEAD_LETTER_HEAD_BYTES = 4096


def payload_summary(size: int, sha256_hex: str, kept: int) -> str:
    return f" [payload of {size} bytes, sha256 {sha256_hex}, first {kept} bytes kept]"


def dead_letter(topic: str, payload: bytes, reason: str, received_at: int) -> DeadLetter:
    reason = (reason or "rejected")[:500]
    if len(payload) > DEAD_LETTER_HEAD_BYTES:
        digest = hashlib.sha256(payload).hexdigest()
        reason = reason[:400] + payload_summary(len(payload), digest, DEAD_LETTER_HEAD_BYTES)
        payload = payload[:DEAD_LETTER_HEAD_BYTES]
    return DeadLetter(
        topic=topic[:512],
        payload_b64=base64.b64encode(payload).decode(),
        reason=reason,
        received_at=received_at,
    )
