"""COPY text rows for readings: one line per reading, five tab-separated fields that
PostgreSQL's text format reads back as the same values."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from models.messages import Reading, Source
from store.telemetry import readings_copy_text

names = st.from_regex(r"[A-Za-z0-9_./:-]{1,20}", fullmatch=True)
values = st.floats(allow_nan=False, allow_infinity=False, width=64)


def _unescape(field: str) -> str | None:
    """PostgreSQL COPY text format: \\N is NULL, a backslash escapes the next char."""
    if field == "\\N":
        return None
    chars = iter(field)
    return "".join(next(chars) if ch == "\\" else ch for ch in chars)


@given(
    st.lists(
        st.builds(
            Reading,
            device_id=st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,20}", fullmatch=True),
            ts=st.integers(946_684_800_000, 4_102_444_800_000),
            metrics=st.dictionaries(names, values, min_size=1, max_size=5),
            source=st.sampled_from(list(Source)),
            received_at=st.one_of(st.none(), st.integers(946_684_800_000, 4_102_444_800_000)),
        ),
        max_size=20,
    )
)
def test_rows_read_back_as_the_same_readings(readings: list[Reading]) -> None:
    text = readings_copy_text(readings).decode()
    lines = text.split("\n")
    assert lines[-1] == ""
    assert len(lines) - 1 == len(readings)
    for line, r in zip(lines, readings, strict=False):
        device, ts, metrics, source, received = (_unescape(f) for f in line.split("\t"))
        assert device == r.device_id and int(ts or 0) == r.ts and source == r.source.value
        assert json.loads(metrics or "") == r.metrics
        assert received == (None if r.received_at is None else str(r.received_at))
