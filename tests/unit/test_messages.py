"""Message schemas, timestamps and the codec."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from models.codec import DecodeError, decode, encode
from models.messages import Position, Reading
from models.timeutil import MAX_TS_MS, MIN_TS_MS, parse_ts_ms


def test_timestamps_in_ms_seconds_and_iso() -> None:
    assert parse_ts_ms(1767225600000) == 1767225600000
    assert parse_ts_ms(1767225600) == 1767225600000
    assert parse_ts_ms(1767225600.5) == 1767225600500
    assert parse_ts_ms("2026-01-01T00:00:00Z") == 1767225600000
    assert parse_ts_ms("2026-01-01T01:00:00+01:00") == 1767225600000
    assert parse_ts_ms("2026-01-01T00:00:00") == 1767225600000  # naive = UTC


@pytest.mark.parametrize(
    "bad", [True, None, "yesterday", 12, -5, float("nan"), float("inf"), "x" * 100, 10**15, [1]]
)
def test_bad_timestamps_are_rejected(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_ts_ms(bad)


@given(st.integers(min_value=MIN_TS_MS, max_value=MAX_TS_MS))
def test_ms_timestamps_roundtrip(ts: int) -> None:
    assert parse_ts_ms(ts) == ts


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("lat", 90.1),
        ("lat", -91),
        ("lon", 181),
        ("lat", math.nan),
        ("battery", 101),
        ("accuracy_m", -1),
        ("speed_mps", math.inf),
    ],
)
def test_position_ranges(field: str, value: float) -> None:
    data = {"engineer_id": "e1", "ts": 1767225600000, "lat": 1.0, "lon": 2.0, field: value}
    with pytest.raises(ValidationError):
        Position(**data)


@pytest.mark.parametrize("ident", ["", "a/b", "a+b", "#", "x" * 65, " e1"])
def test_ids_are_boring(ident: str) -> None:
    with pytest.raises(ValidationError):
        Position(engineer_id=ident, ts=1767225600000, lat=0, lon=0)


@pytest.mark.parametrize(
    "metrics", [{}, {"t": math.nan}, {"bad name": 1.0}, {f"m{i}": 1.0 for i in range(300)}]
)
def test_reading_metrics_are_checked(metrics: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        Reading(device_id="d1", ts=1767225600000, metrics=metrics)


@given(
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
    ts=st.integers(MIN_TS_MS, MAX_TS_MS),
    acc=st.none() | st.floats(0, 1000),
)
def test_codec_roundtrip(lat: float, lon: float, ts: int, acc: float | None) -> None:
    p = Position(engineer_id="eng-1", ts=ts, lat=lat, lon=lon, accuracy_m=acc)
    assert decode(Position, encode(p)) == p


@pytest.mark.parametrize("data", [None, b"", b"{", b"[]", b'{"engineer_id": "e"}'])
def test_codec_rejects_garbage_with_a_reason(data: bytes | None) -> None:
    with pytest.raises(DecodeError) as err:
        decode(Position, data)
    assert str(err.value)
