"""The native adapters' fast path (orjson, no pydantic) against the model path.

Property: whenever the fast path accepts a payload, the pydantic model path accepts it
too and writes the same record (topic, key, event time, same JSON value); whatever the
fast path declines goes through the model, so rejections keep the model's reasons.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest import native
from ingest.routing import Outgoing, Rejected
from models.timeutil import MAX_TS_MS, MIN_TS_MS

NOW = 1_750_000_000_000
MS = 1_750_000_000_123
MIN_S, MAX_S = MIN_TS_MS // 1000, MAX_TS_MS // 1000
Parser = Callable[[str, bytes, int], Outgoing | None]



def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Three draws in four from ``good`` (so both paths often accept), else ``bad``."""
    return st.integers(0, 3).flatmap(lambda i: bad if i == 0 else good)


numbers = mostly(
    st.one_of(st.integers(0, 90), st.floats(-90, 90)),
    st.one_of(
        st.integers(-10**6, 10**6),
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-(2**70), 2**70),
        st.booleans(),
        st.none(),
        st.text(max_size=5),
        st.sampled_from(["12", "1.5", "nan", -0.0, 90, 90.0000001, -180, 360, 100_000]),
    ),
)
timestamps = mostly(
    st.one_of(st.just(MS), st.integers(MIN_TS_MS, MAX_TS_MS), st.integers(MIN_S, MAX_S),
              st.floats(MIN_TS_MS, MAX_TS_MS)),
    st.one_of(
        st.integers(0, 5 * 10**12),
        st.sampled_from(["2025-06-15T15:06:40.123Z", "yesterday", True, 946_684_799_999]),
        numbers,
    ),
)
names = mostly(
    st.sampled_from(["temp_c", "vib_rms", "a/b.c:d-e", "x" * 64]),
    st.one_of(st.sampled_from(["x" * 65, "", "bad name", "ok\n", "\u00e9t\u00e9"]),
              st.text(max_size=8)),
)


def _json(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True).encode()


def _typed(obj: Any) -> Any:
    """JSON values with their types, so 5 (int) and 5.0 (float) differ."""
    if isinstance(obj, dict):
        return {k: _typed(v) for k, v in obj.items()}
    return (type(obj).__name__, obj)


def _same(fast: Outgoing, slow: Outgoing) -> None:
    assert (fast.topic, fast.key, fast.ts) == (slow.topic, slow.key, slow.ts)
    assert _typed(json.loads(fast.value)) == _typed(json.loads(slow.value))


def _agree(fast_path: Parser, model_path: Parser, ident: str, payload: bytes) -> None:
    """The fast path declines what the model rejects, and matches what it accepts."""
    fast = fast_path(ident, payload, NOW)
    try:
        slow = model_path(ident, payload, NOW)
    except Rejected:
        assert fast is None
        return
    if fast is not None:
        _same(fast, slow)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    ts=timestamps,
    metrics=st.one_of(st.dictionaries(names, numbers, max_size=4), numbers),
    extra=st.dictionaries(st.sampled_from(["x", "ts2", "device_id"]), numbers, max_size=2),
)
def test_fast_reading_agrees_with_the_model(ts: Any, metrics: Any, extra: Any) -> None:
    payload = _json({**extra, "ts": ts, "metrics": metrics})
    _agree(native._fast_reading, native._model_reading, "pump-1", payload)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(
    fields=st.fixed_dictionaries(
        {"ts": timestamps, "lat": numbers, "lon": numbers},
        optional=dict.fromkeys(("acc", "spd", "hdg", "batt", "tid"), numbers),
    )
)
def test_fast_position_agrees_with_the_model(fields: dict[str, Any]) -> None:
    _agree(native._fast_position, native._model_position, "e1", _json(fields))


def test_the_common_messages_take_the_fast_path() -> None:
    reading = b'{"ts":1750000000123,"metrics":{"temp_c":71,"vib_rms":0.4}}'
    position = b'{"ts":1750000000123,"lat":51.5,"lon":-0.12,"acc":8,"spd":3.5,"batt":80}'
    fast_r = native._fast_reading("pump-1", reading, NOW)
    fast_p = native._fast_position("e1", position, NOW)
    assert fast_r is not None and fast_p is not None
    _same(fast_r, native._model_reading("pump-1", reading, NOW))
    _same(fast_p, native._model_position("e1", position, NOW))
    assert json.loads(fast_r.value)["metrics"] == {"temp_c": 71.0, "vib_rms": 0.4}


def test_the_fast_path_declines_what_needs_a_reason() -> None:
    iso = b'{"ts":"2025-06-15T15:06:40Z","metrics":{"a":1}}'
    assert native._fast_reading("d", iso, NOW) is None
    assert native._fast_reading("d", b'{"ts":1750000000123,"metrics":{"a":true}}', NOW) is None
    assert native._fast_reading("d", b'{"ts":1750000000123,"metrics":{"a\\n":1}}', NOW) is None
    assert native._fast_position("e", b'{"ts":1750000000123,"lat":91,"lon":0}', NOW) is None
    assert native._fast_position("e", b'{"ts":1750000000123,"lat":1}', NOW) is None
