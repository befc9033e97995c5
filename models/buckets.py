"""Time buckets for telemetry charts and KPIs (pure).

Buckets start at ``ORIGIN + k * width`` (TimescaleDB's ``time_bucket`` origin for widths
under a month, given to ``date_bin`` on plain PostgreSQL), so both database flavours cut
time the same way. A range ``[from, to)`` asks for every bucket that overlaps it, and
each such bucket is whole (all of its readings), so the answer does not depend on whether
it came from raw rows or from a 1-minute or 1-hour rollup.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from models.workorder import DomainError

ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)
MIN_WIDTH = timedelta(seconds=1)
MAX_WIDTH = timedelta(days=31)
MAX_BUCKETS = 10_000
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PATTERN = re.compile(r"^\s*(\d{1,7})\s*([smhd])\s*$")


class BadBucket(DomainError):
    """A bucket width or range the readings and KPI queries do not accept (HTTP 422)."""

    status_code = 422


def parse_width(text: str) -> timedelta:
    """``"60s"``, ``"5m"``, ``"1h"``, ``"1d"`` -> a width between 1 s and 31 days."""
    found = _PATTERN.match(text)
    if not found:
        raise BadBucket(f"bucket {text!r}: expected a number and s, m, h or d (e.g. 60s, 1h)")
    width = timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise BadBucket(f"bucket {text!r}: must be between 1s and 31d")
    return width


def floor(ts: datetime, width: timedelta) -> datetime:
    """The start of the bucket holding ``ts``."""
    return ts - (ts - ORIGIN) % width


def bucket_range(start: datetime, end: datetime, width: timedelta) -> tuple[datetime, datetime]:
    """``[lo, hi)``: from the start of the bucket holding ``start`` to the end of the bucket
    holding the last instant before ``end`` (whole buckets overlapping ``[start, end)``)."""
    if start >= end:
        raise BadBucket("'from' must be before 'to'")
    lo = floor(start, width)
    hi = floor(end, width)
    if hi < end:
        hi += width
    if (hi - lo) / width > MAX_BUCKETS:
        raise BadBucket(f"at most {MAX_BUCKETS} buckets per query: widen the bucket")
    return lo, hi


def rollup_for(width: timedelta) -> str | None:
    """The finest stored rollup a width can be built from: ``"1h"``, ``"1m"`` or None."""
    seconds = int(width.total_seconds())
    if seconds % 3600 == 0:
        return "1h"
    if seconds % 60 == 0:
        return "1m"
    return None
