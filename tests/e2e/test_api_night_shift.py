"""A night shift that began yesterday is still on after midnight: the dispatcher assigns
its engineer and times their route. The engineer's 23-hour shift started 20 h ago and
ends in 3 h, so before 21:00 UTC its end is today and before its start: the shift runs
across midnight (before the fix, such an engineer was off shift from midnight to its end).
Unlike test_api_dispatch, this runs at any hour of the UTC day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import Stack
from tests.e2e.test_api_dispatch import assign, set_online, skilled_world
from tests.e2e.test_api_world import day_left_or_skip, make_order, ok

pytestmark = pytest.mark.e2e


def test_a_shift_begun_yesterday_takes_work_until_it_ends(stack: Stack) -> None:
    day_left_or_skip(0.4)  # the order's window is today's: it needs time to get there
    now = datetime.now(UTC)
    start, end = now + timedelta(hours=4), now + timedelta(hours=3)
    w, skill = skilled_world(stack, engineers=1)
    eng = w.engineers[0]
    with stack.api() as api:
        ok(api.patch(f"/api/v1/engineers/{eng}", json={
            "shift_start": start.strftime("%H:%M:%S"), "shift_end": end.strftime("%H:%M:%S")}))
        set_online(api, eng)
        order = make_order(api, w, required_skills=[skill])
        got = ok(assign(api, order["id"]))
        assert got["mode"] == "auto" and got["engineer_id"] == eng
        route = ok(api.get(f"/api/v1/engineers/{eng}/route"))
        [stop] = [s for s in route["stops"] if s["work_order_id"] == order["id"]]
        assert stop["eta"] is not None
