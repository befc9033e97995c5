"""``GET /api/v1/engineers/{id}/track``: stored fixes of a range, simplified, with the
geofence enters and exits of that range; who may read it; bad ranges."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import Stack, wait_until
from tests.e2e.seed import query
from tests.e2e.test_api_world import assert_error, make_world, ok

pytestmark = pytest.mark.e2e


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def test_track_is_simplified_with_its_geofence_events_and_guarded(stack: Stack) -> None:
    w = make_world(stack, engineers=2, lat=48.85, lon=2.35)
    eng, other = w.engineers
    now = int(time.time() * 1000)
    t0 = now - 40 * 60_000
    # 30 fixes east along a parallel, then 10 north: one corner.
    fixes = [(48.86, 2.35 + i * 0.0005) for i in range(30)]
    fixes += [(48.86 + j * 0.0005, 2.35 + 29 * 0.0005) for j in range(1, 11)]
    for i, (lat, lon) in enumerate(fixes):
        stack.publish(f"fieldflow/engineers/{eng}/location",
                      json.dumps({"ts": t0 + i * 30_000, "lat": lat, "lon": lon}))
    start, end = _iso(t0 - 1000), _iso(now)
    inside = datetime.fromtimestamp((t0 + 60_000) / 1000, UTC)
    outside = datetime.now(UTC) - timedelta(days=2)
    for ts, kind in ((inside, "enter"), (outside, "exit")):
        query(stack.database_url,
              "INSERT INTO geofence_events (event_key, engineer_id, site_id, kind, ts)"
              " VALUES (%s, %s, %s, %s, %s)",
              (f"test:{eng}:{kind}", eng, w.site, kind, ts))

    def track(**params: Any) -> dict[str, Any]:
        with stack.api() as api:
            return ok(api.get(f"/api/v1/engineers/{eng}/track",  # type: ignore[no-any-return]
                              params={"from": start, "to": end, **params}))

    def all_stored() -> dict[str, Any] | None:
        got = track(tolerance_m=0)
        return got if got["fixes"] == len(fixes) else None

    full = wait_until(all_stored, timeout_s=30)
    assert full["engineer_id"] == eng and not full["truncated"]
    simple = track(tolerance_m=5)
    pts = simple["points"]
    assert simple["fixes"] == len(fixes)
    assert [(p["lat"], p["lon"]) for p in pts] == [fixes[0], fixes[29], fixes[-1]]
    assert pts[0]["ts"] == full["points"][0]["ts"] and pts[-1]["ts"] == full["points"][-1]["ts"]
    # The streams may also detect a real check-in at another test's site on this route.
    [ours] = [g for g in simple["geofence"] if g["site_id"] == w.site]
    assert ours["kind"] == "enter" and ours["site_name"] == "Acme HQ"

    with stack.api() as api:
        # Default range: the last hour.
        assert ok(api.get(f"/api/v1/engineers/{eng}/track"))["fixes"] == len(fixes)
        assert_error(api.get(f"/api/v1/engineers/{eng}/track",
                             params={"from": end, "to": start}), 422)
        assert_error(api.get(f"/api/v1/engineers/{eng}/track",
                             params={"from": _iso(now - 8 * 86_400_000), "to": end}), 422)
        assert_error(api.get(f"/api/v1/engineers/{eng}/track", params={"tolerance_m": -1}), 422)
        assert_error(api.get("/api/v1/engineers/nobody-here/track"), 404)
    with stack.api(w.tokens[eng]) as phone:  # an engineer reads their own track only
        assert ok(phone.get(f"/api/v1/engineers/{eng}/track"))["fixes"] == len(fixes)
        assert_error(phone.get(f"/api/v1/engineers/{other}/track"), 403)
