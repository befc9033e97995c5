"""The engineers' live channel: which inbox a topic is, what is passed on, bounded queues."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from api.inbox import InboxClient, decode, engineer_of


def test_engineer_of_an_inbox_topic() -> None:
    assert engineer_of("fieldflow/engineers/eng-1/inbox") == "eng-1"
    assert engineer_of("fieldflow/engineers/eng-1/location") is None
    assert engineer_of("fieldflow/engineers//inbox") is None
    assert engineer_of("fieldflow/engineers/a/b/inbox") is None
    assert engineer_of("other/engineers/eng-1/inbox") is None


def test_only_json_objects_are_passed_on() -> None:
    assert decode(b'{"type": "assignment", "work_order_id": "wo-1"}') == {
        "type": "assignment", "work_order_id": "wo-1"}
    assert decode(b"[1, 2]") is None
    assert decode(b"not json") is None
    assert decode(b"\xff\xfe") is None


@given(st.lists(st.integers(), max_size=60), st.integers(min_value=1, max_value=20))
def test_a_full_queue_drops_the_oldest_and_counts_them(values: list[int], size: int) -> None:
    async def run() -> tuple[list[int], int]:
        client = InboxClient("eng-1", maxsize=size)
        for v in values:
            client.offer({"n": v})
        got = []
        while not client.queue.empty():
            got.append(client.queue.get_nowait()["n"])
        return got, client.skipped

    got, skipped = asyncio.run(run())
    assert got == values[-size:] if values else got == []
    assert skipped == max(0, len(values) - size)
