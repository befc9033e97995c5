"""Time per partition, state per partition (pure; docs/streams.md "State and time").

A :class:`Watermark` is the time of one topic partition that silence timers (engineer and
device offline, SLA acceptance and escalation, alert auto-clear) fire on. Per-key rules
(dwell, hysteresis, alert windows, fault features) use each key's own event times and
never look at it. The rules:

- an event at most ``max_ahead_ms`` ahead of the watermark moves it to the event's time
  (never back, but for the one case below); an event further ahead is *skewed*: stored
  and flagged by the caller, its key's own rules still run, but it does not move the
  watermark. A fresh partition (no watermark yet) measures ahead against ``reference``
  (the wall clock, or the worker's newest partition time when that is later);
- when the partition has been idle (no record) for ``idle_ms`` of wall time, the
  watermark keeps moving: to the wall clock when the stream was tracking it (live, within
  ``max_ahead_ms`` of it: a simulator running hours ahead on the worker's other partitions
  does not drag a live partition with it); else to the newest watermark of the worker's
  partitions where records still flow at the front (:func:`flowing_time`); when none
  flows, at the rate event time ran against wall time while records flowed (an
  accelerated simulator) for at most ``max_ahead_ms`` past the last record. So a fleet
  that goes silent still goes offline, and a simulator that stopped does not drag time on
  for ever;
- a watermark left in the future by an accelerated stream that has stopped (more than
  ``max_ahead_ms`` past the wall clock, and no record near it for ``idle_ms``) comes back
  to live time when a live record (within ``max_ahead_ms`` of the wall clock) arrives: the
  stream tracks the wall clock again. Without this, a live device that reports on a
  partition a finished simulator left hours ahead would be offline at its first reading;
- a restored watermark starts its idle wall-clock anchor at the restore: time while no
  one owned the partition is not credited (its records are replayed instead).

:class:`PartitionStates` holds one state object per owned partition: created (or
restored) on assignment before the partition's first record, handed back on revocation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

MAX_RATE = 3600.0  # an accelerated clock faster than an hour per second is not believed


@dataclass
class Watermark:
    max_ahead_ms: int
    idle_ms: int = 5_000
    value: int | None = None
    # Wall clock and watermark when records last flowed / when the rate window started.
    last_record_wall: int = 0
    last_record_value: int = 0  # the newest accepted record's time
    anchor_wall: int = 0
    anchor_value: int = 0
    rate: float = 1.0
    lead_wall: int = 0  # wall clock when the front was last reached, here or elsewhere
    front_wall: int = 0  # wall clock when a record at this watermark's front last arrived

    def observe(self, ts: int, wall_ms: int, reference: int | None = None) -> bool:
        """A record at event time ``ts`` seen at wall time ``wall_ms``; False when it is
        skewed (too far ahead) and did not move the watermark."""
        base = self.value if self.value is not None else max(wall_ms, reference or 0)
        if ts > base + self.max_ahead_ms:
            return False  # nor does it count as the partition not being idle
        self.last_record_wall = wall_ms
        self.last_record_value = max(self.last_record_value, ts)
        if self.value is None or self._left_in_the_future(ts, wall_ms):
            self.value = ts
            self.anchor_wall, self.anchor_value, self.rate = wall_ms, ts, 1.0
        elif ts > self.value:
            self.value = ts
        if ts >= self.value - self.max_ahead_ms:
            self.lead_wall = self.front_wall = wall_ms
        self._measure(wall_ms)
        return True

    def _left_in_the_future(self, ts: int, wall_ms: int) -> bool:
        """The watermark is far past the wall clock, nothing has reached it for ``idle_ms``,
        and ``ts`` is live and far behind it: the accelerated stream stopped."""
        assert self.value is not None
        return (self.value > wall_ms + self.max_ahead_ms
                and abs(ts - wall_ms) <= self.max_ahead_ms
                and ts < self.value - self.max_ahead_ms
                and wall_ms - self.lead_wall >= self.idle_ms)

    def _measure(self, wall_ms: int) -> None:
        """Event time per wall time over windows of at least 2 s of records flowing."""
        assert self.value is not None
        span = wall_ms - self.anchor_wall
        if span >= 2_000:
            self.rate = min(MAX_RATE, max(1.0, (self.value - self.anchor_value) / span))
            self.anchor_wall, self.anchor_value = wall_ms, self.value

    def idle(self, wall_ms: int) -> bool:
        return wall_ms - self.last_record_wall >= self.idle_ms

    def flowing(self, wall_ms: int) -> bool:
        """Records reached this watermark's front within ``idle_ms``. A live record on a
        partition a stopped simulator left in the future does not count, nor does a
        restore: either would let partitions hold each other in that future."""
        return wall_ms - self.front_wall < self.idle_ms

    def tick(self, wall_ms: int, reference: int | None = None) -> int | None:
        """Advance an idle partition's watermark; the watermark after.

        A live stream follows the wall clock. Otherwise ``reference``, the newest watermark
        of the worker's partitions where records still flow, is followed; without one, an
        accelerated stream runs on at its measured rate, for at most ``max_ahead_ms`` past
        its last record (a simulator that stopped does not run on for ever)."""
        if self.value is None or not self.idle(wall_ms):
            return self.value
        if abs(self.value - wall_ms) <= self.max_ahead_ms:
            self.value = max(self.value, wall_ms)  # live: the wall clock, whatever others do
        elif reference is not None:
            if reference >= self.value - self.max_ahead_ms:
                self.lead_wall = wall_ms  # records still flow at the front, elsewhere
            self.value = max(self.value, reference)
        else:
            gained = int((wall_ms - self.last_record_wall) * self.rate)
            limit = max(self.value, self.last_record_value + self.max_ahead_ms)
            self.value = min(self.value + max(0, gained), limit)
        self.last_record_wall = wall_ms  # credited up to now
        self.anchor_wall, self.anchor_value = wall_ms, self.value
        return self.value

    def restored(self, wall_ms: int) -> Watermark:
        """This watermark as a new owner takes it over at wall time ``wall_ms``."""
        self.last_record_wall = wall_ms
        # lead_wall is kept: when the front was last reached is the old owner's fact too
        self.anchor_wall = wall_ms
        self.anchor_value = self.value or 0
        return self


def flowing_time(marks: Iterable[Watermark], wall_ms: int) -> int | None:
    """The newest watermark among ``marks`` where records still flow at the front: the
    time idle partitions follow (:meth:`Watermark.tick`'s ``reference``)."""
    return max((m.value for m in marks if m.value is not None and m.flowing(wall_ms)),
               default=None)


S = TypeVar("S")


@dataclass
class PartitionStates(Generic[S]):
    """The state of each partition a worker owns, for one topic."""

    new: Callable[[int], S]  # a fresh state for a partition
    owned: dict[int, S] = field(default_factory=dict)

    def assign(self, partition: int, restored: S | None) -> S:
        state = restored if restored is not None else self.new(partition)
        self.owned[partition] = state
        return state

    def revoke(self, partition: int) -> S | None:
        return self.owned.pop(partition, None)

    def get(self, partition: int) -> S:
        return self.owned[partition]

    def items(self) -> Iterator[tuple[int, S]]:
        return iter(list(self.owned.items()))

    def partitions(self) -> list[int]:
        return sorted(self.owned)
