"""The bridge's in-order acks (ingest.acks): pure logic."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from ingest.acks import AckWindow, Pending


def _window(records: list[int]) -> tuple[AckWindow, list[Pending]]:
    window = AckWindow()
    return window, [window.add(Pending(mid=i + 1, qos=1, remaining=n, t0=0.0))
                    for i, n in enumerate(records)]


def test_a_done_message_waits_for_those_before_it() -> None:
    window, (first, second, third) = _window([1, 1, 1])
    second.settle()
    third.settle()
    assert window.ready() == []
    first.settle()
    assert [p.mid for p in window.ready()] == [1, 2, 3]
    assert len(window) == 0


def test_a_message_without_records_is_done_when_added() -> None:
    window, (empty, waiting) = _window([0, 2])
    assert empty.done
    assert window.ready() == [empty]
    waiting.settle()
    assert window.ready() == []  # one of its two records is still out
    waiting.settle()
    assert window.ready() == [waiting]


@given(st.lists(st.integers(min_value=0, max_value=3), max_size=40), st.randoms())
def test_acks_come_in_receive_order_whatever_order_kafka_confirms(
        records: list[int], rnd: random.Random) -> None:
    window, pendings = _window(records)
    settles = [p for p in pendings for _ in range(p.remaining)]
    rnd.shuffle(settles)
    acked: list[int] = [p.mid for p in window.ready()]
    for p in settles:
        p.settle()
        released = window.ready()
        assert all(r.done for r in released)
        acked += [r.mid for r in released]
        # nothing is released while an older message is still out
        first_out = next((q.mid for q in pendings if not q.done), None)
        assert first_out is None or all(mid < first_out for mid in acked)
    assert acked == [p.mid for p in pendings]  # each acked once, in order, none left
    assert len(window) == 0
