"""Per-device token buckets: a flooding device is throttled, the others are not."""

from __future__ import annotations

import json

import pytest

from ingest.ratelimit import RateLimiter
from ingest.router import Router
from ingest.routing import RejectKind
from ingest.sparkplug_codec import encode_birth, encode_data

T0 = 1_750_000_000_000


def test_bucket_refills_with_event_time() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=2)
    assert [limiter.allow("a", T0) for _ in range(3)] == [True, True, False]
    assert not limiter.allow("a", T0 + 500)
    assert limiter.allow("a", T0 + 1500)
    assert not limiter.allow("a", T0 + 1000)  # time going backwards adds nothing
    assert limiter.throttled("a") == 3 and limiter.throttled() == 3


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        RateLimiter(0, 1)


def test_keys_are_bounded() -> None:
    limiter = RateLimiter(1, 1, max_keys=10)
    for i in range(100):
        limiter.allow(f"k{i}", T0)
    assert len(limiter._buckets) == 10


def test_flooding_device_is_throttled_and_reported_others_unaffected() -> None:
    router = Router(limiter=RateLimiter(rate_per_s=1, burst=5))
    flood_ok = flood_dead = calm_ok = 0
    for i in range(6000):  # 60 s: the flooder at 100 msgs/s, the calm device at 1 msg/s
        now = T0 + i * 10
        body = json.dumps({"ts": now, "metrics": {"x": i}}).encode()
        result = router.route("fieldflow/devices/flood/telemetry", body, now)
        if result.dead is None:
            flood_ok += 1
        else:
            assert result.dead.reason.startswith("rate limited")
            assert result.dead_kind is RejectKind.RATE_LIMITED
            flood_dead += 1
        if i % 100 == 0:
            assert router.route("fieldflow/devices/calm/telemetry", body, now).dead is None
            calm_ok += 1
    assert calm_ok == 60
    assert 60 <= flood_ok <= 66  # burst + rate x 60 s
    assert flood_ok + flood_dead == 6000
    assert router.limiter is not None
    assert router.limiter.top_throttled(1) == [("device/flood", flood_dead)]


def test_sparkplug_births_are_never_throttled() -> None:
    router = Router(limiter=RateLimiter(rate_per_s=1, burst=1))
    topic = "spBv1.0/g/NBIRTH/n"
    for _ in range(5):
        birth = encode_birth({"a": 1.0}, timestamp=T0, bd_seq=0)
        assert router.route(topic, birth, T0).dead is None
    ok = router.route("spBv1.0/g/NDATA/n", encode_data({"a": 2.0}, timestamp=T0, seq=1), T0)
    assert ok.dead is None
    throttled = router.route("spBv1.0/g/NDATA/n", encode_data({"a": 2.0}, timestamp=T0, seq=2), T0)
    assert throttled.dead_kind is RejectKind.RATE_LIMITED
    # the throttled message still advanced seq: the next one is not a gap
    later = router.route("spBv1.0/g/NDATA/n", encode_data({"a": 3.0}, timestamp=T0, seq=3),
                         T0 + 2000)
    assert later.dead is None and later.commands == []
