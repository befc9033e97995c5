"""Event-time helpers: every timestamp in FieldFlow is UTC epoch milliseconds."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

# Plausible event times: 2000-01-01 .. 2100-01-01 (catches seconds-vs-ms mix-ups).
MIN_TS_MS = 946_684_800_000
MAX_TS_MS = 4_102_444_800_000
# Epoch seconds in that same range, accepted and scaled (OwnTracks' ``tst`` is seconds).
_MIN_TS_S = MIN_TS_MS // 1000
_MAX_TS_S = MAX_TS_MS // 1000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def parse_ts_ms(value: object) -> int:
    """Epoch ms (int/float), epoch seconds, or ISO-8601 -> epoch ms; ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("timestamp must be a number or an ISO-8601 string")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("timestamp must be finite")
        if _MIN_TS_S <= value <= _MAX_TS_S:
            return round(value * 1000)
        if MIN_TS_MS <= value <= MAX_TS_MS:
            return int(value)
        raise ValueError("timestamp out of range (expect epoch ms, epoch s or ISO-8601)")
    if isinstance(value, str):
        text = value.strip()
        if len(text) > 40:
            raise ValueError("timestamp string too long")
        try:
            dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"timestamp {text[:40]!r} is not ISO-8601") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        return parse_ts_ms(int(dt.timestamp() * 1000))
    raise ValueError("timestamp must be a number or an ISO-8601 string")


def to_datetime(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
