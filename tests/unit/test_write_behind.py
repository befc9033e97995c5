"""The consumer loop with a write behind (streams.partitioned.PartitionedConsumer): the next
batch is taken while the last one's write runs, but no offset is committed and no snapshot
taken before the write of the records it covers is done, and a revocation waits for it
(in the consumer's thread) and commits the revoked partitions' offsets before they go."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from confluent_kafka import TopicPartition

from stack.settings import Settings
from streams.partitioned import Batch, PartitionedConsumer
from streams.watermark import PartitionStates, Watermark

TOPIC = "telemetry.readings"


@dataclass
class State:
    watermark: Watermark = field(default_factory=lambda: Watermark(600_000))


class Record:
    def __init__(self, part: int, offset: int) -> None:
        self._part, self._offset = part, offset

    def partition(self) -> int:
        return self._part

    def offset(self) -> int:
        return self._offset

    def timestamp(self) -> tuple[int, int]:
        return 1, 0

    def error(self) -> None:
        return None


class Stop(Exception):
    pass


class Log:
    """What happened, in order, from both threads."""

    def __init__(self) -> None:
        self.events: list[tuple[object, ...]] = []
        self.lock = threading.Lock()
        self.writing: set[int] = set()  # batches whose write runs now

    def add(self, *event: object) -> None:
        with self.lock:
            self.events.append(event)

    def write_starts(self, i: int) -> None:
        with self.lock:
            self.writing.add(i)

    def write_ends(self, i: int) -> None:
        with self.lock:
            self.writing.discard(i)
            self.events.append(("written", i))

    def now_writing(self) -> frozenset[int]:
        with self.lock:
            return frozenset(self.writing)


class FakeConsumer:
    """Hands out ``batches`` (lists of (partition, offset)); ``revoke_at`` calls the
    consumer's revocation callback inside that ``consume`` call, as librdkafka does."""

    def __init__(self, pc: PartitionedConsumer[State], log: Log,
                 batches: list[list[tuple[int, int]]], revoke_at: int | None = None) -> None:
        self.pc, self.log, self.batches, self.revoke_at = pc, log, batches, revoke_at
        self.calls = 0

    def consume(self, n: int, timeout: float) -> list[Record]:
        if timeout > 0:
            return []  # take() asks again with a wait only when nothing was queued
        i, self.calls = self.calls, self.calls + 1
        if i == self.revoke_at:
            self.pc._on_revoke(self, [TopicPartition(TOPIC, 0)])  # type: ignore[arg-type]
        if i >= len(self.batches):
            raise Stop
        self.log.add("take", i, self.log.now_writing())
        return [Record(p, o) for p, o in self.batches[i]]

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> None:
        self.log.add("commit", {tp.partition: tp.offset for tp in offsets}, asynchronous,
                     self.log.now_writing())


def consumer_with(tmp_path: Path, log: Log,
                  write_s: float = 0.05) -> PartitionedConsumer[State]:
    seen = [0]

    async def process(batch: Batch) -> asyncio.Future[float]:
        i = seen[0]
        seen[0] += 1
        log.add("stages", i, {p: [r.offset() for r in rs] for p, rs in batch.items()})
        log.write_starts(i)

        async def write() -> float:
            await asyncio.sleep(write_s)
            log.write_ends(i)
            return 0.0

        return asyncio.ensure_future(write())

    async def tick() -> None:
        return None

    states: PartitionStates[State] = PartitionStates(new=lambda _p: State())
    for part in (0, 1):
        states.assign(part, None)
    settings = Settings(home=tmp_path)  # type: ignore[call-arg]
    pc = PartitionedConsumer(settings=settings, topic=TOPIC, group="g", worker="w",
                             states=states, process=process, tick=tick)

    def snapshot(consumer: object, partitions: list[int], *, drop: bool) -> None:
        log.add("snapshot", tuple(partitions), drop, log.now_writing())
        if drop:
            for p in partitions:
                states.revoke(p)

    pc._snapshot = snapshot  # type: ignore[method-assign]
    return pc


def run_loop(pc: PartitionedConsumer[State], consumer: FakeConsumer) -> None:
    async def main() -> None:
        with pytest.raises(Stop):
            await pc._loop(consumer)  # type: ignore[arg-type]

    asyncio.run(main())


BATCHES = [[(0, 0), (0, 1)], [(0, 2), (1, 0)], [(1, 1)], [(0, 3)]]


def test_offsets_are_committed_only_after_their_write_and_the_next_batch_runs_meanwhile(
        tmp_path: Path) -> None:
    log = Log()
    pc = consumer_with(tmp_path, log)
    run_loop(pc, FakeConsumer(pc, log, BATCHES))
    events = log.events
    commits = [e for e in events if e[0] == "commit"]
    # every batch's offsets, in order, each only once its write and those before are done
    assert [c[1] for c in commits] == [{0: 2}, {0: 3, 1: 1}, {1: 2}]
    for i in range(3):
        assert events.index(("written", i)) < events.index(commits[i])
    # a snapshot's state is stored: no write runs when it is taken
    assert all(e[3] == frozenset() for e in events if e[0] == "snapshot")
    # the point of it: a batch was taken while the one before was still being written
    assert any(e[0] == "take" and e[2] for e in events)


def test_a_revocation_waits_for_the_write_and_commits_before_the_partitions_go(
        tmp_path: Path) -> None:
    log = Log()
    pc = consumer_with(tmp_path, log, write_s=0.2)
    run_loop(pc, FakeConsumer(pc, log, BATCHES, revoke_at=2))
    events = log.events
    revoke = next(e for e in events if e[0] == "snapshot" and e[2])
    at = events.index(revoke)
    assert revoke[3] == frozenset()  # waited: nothing was being written any more
    sync = [e for e in events[:at] if e[0] == "commit" and e[2] is False]
    assert sync and sync[-1][1] == {0: 3}  # batch 1's offset of partition 0, while ours
    assert ("written", 1) in events[:at]
    # after it, partition 0 is not ours: nothing of it is committed again
    assert all(0 not in e[1] for e in events[at + 1:] if e[0] == "commit")
    assert 0 not in pc.states.owned
