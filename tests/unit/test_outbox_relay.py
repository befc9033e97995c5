"""The relay's pure parts: which rows count as sent (order per key) and dropping repeats."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from api.relay import settle
from models.dedupe import RecentIds


def _rows(keys: list[str]) -> list[dict[str, Any]]:
    return [{"id": i, "destination": "events.workorders", "key": k, "attempts": 0}
            for i, k in enumerate(keys, 1)]


@given(keys=st.lists(st.sampled_from("abc"), max_size=30), data=st.data())
def test_no_row_counts_as_sent_after_a_failed_row_of_its_key(keys: list[str],
                                                            data: st.DataObject) -> None:
    rows = _rows(keys)
    errors = {r["id"]: data.draw(st.sampled_from([None, "broker down"])) for r in rows}
    sent, failed = settle(rows, errors, 0.5, 30.0)
    first_failure: dict[str, int] = {}
    for r in rows:
        if errors[r["id"]] is not None:
            first_failure.setdefault(r["key"], r["id"])
    for r in rows:
        stop = first_failure.get(r["key"])
        if stop is None or r["id"] < stop:
            assert (r["id"] in sent) == (errors[r["id"]] is None)
        else:  # the failed row and everything after it of its key stay pending
            assert r["id"] not in sent
    assert set(failed) == set(first_failure.values())  # one retry per key, its first failure
    assert all(delay == 0.5 for _, delay in failed.values())


def test_the_retry_delay_doubles_with_the_attempts() -> None:
    rows = [{"id": 1, "destination": "t", "key": "k", "attempts": 3}]
    assert settle(rows, {1: "x"}, 0.5, 30.0)[1] == {1: ("x", 4.0)}
    rows[0]["attempts"] = 20
    assert settle(rows, {1: "x"}, 0.5, 30.0)[1] == {1: ("x", 30.0)}
    assert settle(rows, {}, 0.5, 30.0)[1] == {1: ("not sent", 30.0)}  # no report: failed


def test_recent_ids_pass_each_id_once_and_forget_the_oldest() -> None:
    seen = RecentIds(size=2)
    assert [seen.first(x) for x in ("a", "b", "a", None, None)] == [True, True, False, True,
                                                                     True]
    assert seen.first("c")  # evicts b (a was seen again more recently)
    assert seen.first("b") and not seen.first("c")
