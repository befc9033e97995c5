"""The bridge's acknowledgements, in the order the messages came.

A message is acked to the MQTT broker once Kafka confirmed every record it produced. Kafka
confirms by partition batch, so messages finish out of order; they are acked in the order
the broker sent them all the same:

- MQTT 3.1.1 §4.6 requires it: a receiver MUST send PUBACKs in the order the PUBLISH
  packets were received [MQTT-4.6.0-2];
- mosquitto looks an acked message up by walking the client's in-flight list from its
  oldest entry: an ack for the oldest is found at once, an ack out of order after a walk
  over everything older (measured: 15% of mosquitto's CPU at 20,000 msgs/s,
  docs/benchmarks.md).

Acking later is always safe: an unacked message is redelivered, never lost.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass


@dataclass(slots=True)
class Pending:
    """One MQTT message waiting for its Kafka deliveries before it is acked."""

    mid: int
    qos: int
    remaining: int
    t0: float
    published: int = 0
    done: bool = False

    def settle(self) -> None:
        """One of its records is settled (delivered, or given up for good)."""
        self.remaining -= 1
        if self.remaining <= 0:
            self.done = True


class AckWindow:
    """Messages in the order received; :meth:`ready` releases the done ones at the head.

    One thread adds (the MQTT reader), one thread takes (the Kafka poller); ``done`` may be
    set from either. A deque's append and popleft are atomic, and only the taker pops, so
    no lock is needed."""

    def __init__(self) -> None:
        self._order: collections.deque[Pending] = collections.deque()

    def add(self, pending: Pending) -> Pending:
        if pending.remaining <= 0:
            pending.done = True
        self._order.append(pending)
        return pending

    def ready(self) -> list[Pending]:
        """The done messages at the head, oldest first; those behind an unfinished one wait."""
        order, out = self._order, []
        while order and order[0].done:
            out.append(order.popleft())
        return out

    def __len__(self) -> int:
        return len(self._order)
