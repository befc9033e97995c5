from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.buckets import ORIGIN, BadBucket, bucket_range, floor, parse_width, rollup_for

times = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1),
                     timezones=st.just(UTC))
widths = st.integers(min_value=1, max_value=86400 * 31).map(lambda s: timedelta(seconds=s))


def test_parse_width() -> None:
    assert parse_width("60s") == timedelta(minutes=1)
    assert parse_width("5m") == timedelta(minutes=5)
    assert parse_width("1h") == timedelta(hours=1)
    assert parse_width("1d") == timedelta(days=1)
    for bad in ("", "0s", "1w", "60", "-5m", "32d", "1.5h"):
        with pytest.raises(BadBucket):
            parse_width(bad)


@given(times, widths)
def test_floor_is_the_bucket_start(ts: datetime, width: timedelta) -> None:
    start = floor(ts, width)
    assert start <= ts < start + width
    assert (start - ORIGIN) % width == timedelta(0)


def test_floor_matches_time_bucket_origin() -> None:
    # time_bucket('1 week', ts) starts weeks on Monday 2000-01-03.
    assert floor(datetime(2026, 12, 4, 18, tzinfo=UTC), timedelta(days=7)) == datetime(
        2026, 11, 30, tzinfo=UTC)


@given(times, st.integers(min_value=1, max_value=10**6), widths)
def test_bucket_range_covers_whole_buckets(start: datetime, span_s: int, width: timedelta) -> None:
    end = start + timedelta(seconds=span_s)
    try:
        lo, hi = bucket_range(start, end, width)
    except BadBucket:
        assert (end - start) / width > 9_999
        return
    assert lo <= start < end <= hi
    assert floor(lo, width) == lo and floor(hi, width) == hi
    assert hi - lo < (end - start) + 2 * width


def test_bucket_range_rejects_empty_and_huge() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(BadBucket):
        bucket_range(t, t, timedelta(minutes=1))
    with pytest.raises(BadBucket):
        bucket_range(t, t + timedelta(days=30), timedelta(seconds=1))


def test_rollup_for() -> None:
    assert rollup_for(timedelta(hours=2)) == "1h"
    assert rollup_for(timedelta(minutes=5)) == "1m"
    assert rollup_for(timedelta(seconds=90)) is None
