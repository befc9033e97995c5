"""A Kafka consumer whose working state belongs to its partitions (docs/streams.md).

One librdkafka consumer per topic in the workers' group. Everything that touches a
partition's state runs in one sequence, so no lock is needed:

    consume (assignment callbacks run here) -> process the batch -> commit -> tick -> snapshot

A batch's write may run behind its stages (``process`` returns it unfinished: readings):
the next batch is consumed and processed while it finishes, and a batch's offsets are
committed only once its write is done. One write at most is behind: the next batch waits
for it before committing, a snapshot waits for it, and so does a revocation (in the
consumer's thread, while the event loop finishes the write) before it commits the
revoked partitions' offsets and snapshots them.

- on assignment, each gained partition's snapshot is loaded from PostgreSQL and the
  partition is read from the snapshot's offset (the records after it are replayed: every
  stage is idempotent by event key); without a snapshot it starts empty from the
  committed offset;
- on revocation, each lost partition's state is snapshotted at the consumer's position
  and dropped;
- every ``snapshot_interval_s`` the owned partitions are snapshotted, so a worker killed
  without a revocation loses at most that much work, which its successor replays.

This replaces faust for the telemetry topics: DESIGN.md §3 measured a plain consumer
group exact across rebalances on tansu, where a faust table lost counts.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from stack.settings import Settings
from store.snapshots import Snapshot, load_snapshots, save_snapshots
from streams.app import MAX_POLL_INTERVAL_S
from streams.stageclock import Consumed, StageClock, stages_file
from streams.watermark import PartitionStates, Watermark

log = logging.getLogger("fieldflow.streams.partitioned")


class HasWatermark(Protocol):
    watermark: Watermark


S = TypeVar("S", bound=HasWatermark)
Batch = dict[int, list[Message]]
CLOSE_TIMEOUT_S = 30.0


@dataclass
class Behind:
    """A batch whose stages are done and whose write may not be: the write (its result
    the wall time it was stored at), the offsets to commit after it, and its clock."""

    write: asyncio.Future[float]
    offsets: dict[int, int]  # partition -> next offset
    consumed: Consumed


@dataclass
class PartitionedConsumer(Generic[S]):
    settings: Settings
    topic: str
    group: str
    worker: str
    states: PartitionStates[S]
    # Runs the batch's stages; returns its write, which may still be running.
    process: Callable[[Batch], Awaitable[asyncio.Future[float]]]
    tick: Callable[[], Awaitable[None]]
    on_assignment: Callable[[], None] = lambda: None
    tick_s: float = 2.0
    clock: StageClock = field(init=False)
    behind: Behind | None = None
    # Set unless a write is behind; the revocation callback waits on it in the consumer's
    # thread (the event loop is free then: it awaits that thread).
    written: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.clock = StageClock(stages_file(self.settings.run_dir, self.worker, self.topic))
        self.written.set()

    def dumps(self, state: S) -> bytes:
        return pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)

    def loads(self, blob: bytes) -> S:
        # Our own snapshots, written by our own workers to our own database (whoever can
        # write stream_snapshots can already change every business fact: docs/security.md).
        state: S = pickle.loads(blob)  # noqa: S301  # nosec B301
        return state

    def _consumer(self) -> Consumer:
        consumer = Consumer({
            "bootstrap.servers": self.settings.resolved_kafka_bootstrap,
            "group.id": self.group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 10_000,  # a dead worker's partitions move on in seconds
            "max.poll.interval.ms": MAX_POLL_INTERVAL_S * 1000,
            "fetch.wait.max.ms": self.settings.worker_fetch_wait_ms,
        })
        consumer.subscribe([self.topic], on_assign=self._on_assign, on_revoke=self._on_revoke,
                           on_lost=self._on_lost)
        return consumer

    # -- assignment callbacks (run inside consume(), between batches) -----------------
    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        gained = [tp.partition for tp in partitions]
        snaps = load_snapshots(self.settings.resolved_database_url, self.group, self.topic,
                               gained)
        now = int(time.time() * 1000)
        for tp in partitions:
            snap = snaps.get(tp.partition)
            state = self._restore(tp.partition, snap.state) if snap else None
            if state is not None:
                state.watermark.restored(now)
                if snap is not None and self._offset_exists(consumer, tp, snap.next_offset):
                    tp.offset = snap.next_offset
            self.states.assign(tp.partition, state)
        consumer.assign(partitions)
        log.info("%s: assigned %s (restored %s)", self.topic, gained, sorted(snaps))
        self.on_assignment()

    def _restore(self, partition: int, blob: bytes) -> S | None:
        """A snapshot this code cannot read (its classes changed shape) starts the
        partition empty from its committed offset, rather than failing every assignment."""
        try:
            return self.loads(blob)
        except Exception as exc:
            log.warning("%s[%d]: snapshot unreadable (%s: %s); starting the partition empty",
                        self.topic, partition, type(exc).__name__, exc)
            return None

    def _offset_exists(self, consumer: Consumer, tp: TopicPartition, offset: int) -> bool:
        """Whether the snapshot's offset is in this partition's log. Past its end, the log
        is not the one the snapshot read (an embedded broker keeps topics in memory: a
        restarted stack starts them empty): the partition is then read from its committed
        offset (or the earliest), with the snapshot's state kept."""
        try:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(self.topic, tp.partition), timeout=10)
        except KafkaException as exc:
            log.warning("%s[%d]: end offset unknown (%s); reading from the snapshot's %d",
                        self.topic, tp.partition, exc, offset)
            return True
        if offset <= high:
            return True
        log.warning("%s[%d]: the snapshot's offset %d is past the log's end %d (the broker"
                    " lost its data?): reading from the committed offset instead",
                    self.topic, tp.partition, offset, high)
        return False

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        lost = [tp.partition for tp in partitions]
        self.written.wait()  # the write behind holds records of these partitions
        behind = self.behind
        if behind is not None:  # written: commit its offsets for these while they are ours
            self._commit(consumer, {p: behind.offsets.pop(p) for p in lost
                                    if p in behind.offsets}, asynchronous=False)
        self._snapshot(consumer, lost, drop=True)  # the client unassigns them after this
        log.info("%s: revoked %s (snapshotted)", self.topic, lost)
        self.on_assignment()

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        # Someone else may already own them: their state is not ours to write any more.
        for tp in partitions:
            self.states.revoke(tp.partition)
        log.warning("%s: partitions lost %s (dropped without snapshot)", self.topic,
                    [tp.partition for tp in partitions])
        self.on_assignment()

    def _snapshot(self, consumer: Consumer, partitions: list[int], *, drop: bool) -> None:
        positions = consumer.position([TopicPartition(self.topic, p) for p in partitions])
        snaps = []
        for tp in positions:
            state = self.states.revoke(tp.partition) if drop else self.states.owned.get(
                tp.partition)
            if state is not None and tp.offset >= 0:
                snaps.append(Snapshot(tp.partition, tp.offset, self.dumps(state)))
        save_snapshots(self.settings.resolved_database_url, self.group, self.topic,
                       self.worker, snaps)

    # -- the loop ------------------------------------------------------------------------
    async def run(self) -> None:
        while True:  # an unexpected error restarts the consumer from the snapshots
            consumer = await asyncio.to_thread(self._consumer)
            log.info("%s: consumer in group %s", self.topic, self.group)
            try:
                await self._loop(consumer)
            except Exception:
                log.exception("%s: consumer failed; restarting it in 1 s", self.topic)
                await asyncio.sleep(1)
            finally:
                if self.behind is not None:  # stored before the partitions go; not
                    await self.behind.write   # committed: the next owner replays it
                    self.behind = None
                    self.written.set()
                self.states.owned.clear()
                try:  # a close that hangs must not stop the consumer for good
                    await asyncio.wait_for(asyncio.to_thread(consumer.close), CLOSE_TIMEOUT_S)
                except TimeoutError:
                    log.error("%s: consumer did not close in %.0f s; starting a new one",
                              self.topic, CLOSE_TIMEOUT_S)
                self.on_assignment()

    async def _loop(self, consumer: Consumer) -> None:
        s = self.settings
        next_tick = next_snapshot = time.monotonic()
        size = s.worker_batch_size
        while True:
            records = await asyncio.to_thread(take, consumer, size, s.worker_batch_seconds)
            size = next_batch_size(size, len(records), s.worker_batch_size)
            batch: Batch = {}
            consumed = self.clock.consumed([r.timestamp()[1] for r in records])
            offsets: dict[int, int] = {}
            for record in records:
                error = record.error()
                if error is not None:
                    log.warning("%s: consumer error %s", self.topic, error)
                    continue
                part, offset = record.partition(), record.offset()
                if part is not None and offset is not None:
                    offsets[part] = max(offsets.get(part, 0), offset + 1)
                if part is not None and part in self.states.owned:
                    batch.setdefault(part, []).append(record)
            write = await self.process(batch) if batch else None
            if batch:
                self.clock.mark("processed", consumed)
            await self._catch_up(consumer)  # the batch before this one
            if write is None:
                self._commit(consumer, offsets)
            else:
                self.behind = Behind(write, offsets, consumed)
                if write.done():
                    await self._catch_up(consumer)
                else:
                    self.written.clear()
                    write.add_done_callback(lambda _: self.written.set())
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + self.tick_s
                await self.tick()
                self.clock.write()
            if now >= next_snapshot:
                next_snapshot = now + s.snapshot_interval_s
                await self._catch_up(consumer)  # a snapshot's state is stored up to it
                owned = self.states.partitions()
                if owned:
                    await asyncio.to_thread(self._snapshot, consumer, owned, drop=False)

    async def _catch_up(self, consumer: Consumer) -> None:
        """Wait for the write behind, if any, then commit its batch's offsets."""
        behind = self.behind
        if behind is None:
            return
        stored_at = await behind.write
        self.clock.mark("stored", behind.consumed, stored_at)
        self.behind = None
        self._commit(consumer, behind.offsets)

    def _commit(self, consumer: Consumer, offsets: dict[int, int], *,
                asynchronous: bool = True) -> None:
        """Commit ``offsets`` of the partitions still ours. Asynchronous by default: the
        next batch need not wait for the broker's answer; a commit that fails (a
        rebalance, say) means replay, never loss."""
        mine = [TopicPartition(self.topic, p, o) for p, o in offsets.items()
                if p in self.states.owned]
        if not mine:
            return
        try:
            if asynchronous:
                consumer.commit(offsets=mine, asynchronous=True)
            else:
                consumer.commit(offsets=mine, asynchronous=False)
        except KafkaException as exc:
            log.warning("%s: offsets not committed (%s)", self.topic, exc)


def take(consumer: Consumer, size: int, wait_s: float) -> list[Message]:
    """Up to ``size`` records: those queued now, at once; when none is, the first to come
    within ``wait_s`` and whatever came with it. Never waits to fill a batch: under load
    the records that arrived while the previous batch was processed are queued, so the
    batch size follows the load and a record waits one batch, not one batch plus a linger."""
    records = consumer.consume(size, 0)
    if records:
        return records
    records = consumer.consume(1, wait_s)
    if records and size > 1:
        records += consumer.consume(size - 1, 0)
    return records


BATCH_GROWTH = 8  # a backlog is read in batches of up to 8 x worker_batch_size


def next_batch_size(size: int, got: int, base: int) -> int:
    """The next consume's batch size, driven by load: a full batch means records are
    waiting (a backlog): double it, up to ``BATCH_GROWTH * base``, so each transaction,
    COPY and commit carries more; a batch under half full halves it, down to ``base``."""
    if got >= size:
        return min(size * 2, base * BATCH_GROWTH)
    if got < size // 2:
        return max(base, size // 2)
    return size


def key_of(record: Message) -> str:
    key: Any = record.key()
    return key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key or "")
