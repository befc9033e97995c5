"""Dropping repeats by event id (pure): the outbox relay sends at least once."""

from __future__ import annotations

from collections import OrderedDict


class RecentIds:
    """The last ``size`` ids seen; ``first(id)`` is True only the first time an id is
    offered while it is remembered (None ids, from events without one, always pass)."""

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first(self, event_id: str | None) -> bool:
        if event_id is None:
            return True
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True
