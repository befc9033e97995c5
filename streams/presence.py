"""Online/offline presence of engineers from the event time of their fixes (pure)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PresenceChange:
    engineer_id: str
    online: bool
    ts: int
    last_seen_ts: int


class OfflineTracker:
    """Last seen per engineer; offline after a per-engineer timeout of event-time silence."""

    def __init__(self, default_timeout_s: float = 300.0) -> None:
        self.default_timeout_s = default_timeout_s
        self._timeout_s: dict[str, float] = {}
        self._last: dict[str, int] = {}
        self._offline: set[str] = set()

    def set_timeout(self, engineer_id: str, timeout_s: float) -> None:
        self._timeout_s[engineer_id] = timeout_s

    def last_seen(self, engineer_id: str) -> int | None:
        return self._last.get(engineer_id)

    def observe(self, engineer_id: str, ts: int) -> PresenceChange | None:
        """Record a ping; an ``online`` change on first sight or when back from offline."""
        last = self._last.get(engineer_id)
        if last is not None and ts <= last:
            return None  # an old buffered fix says nothing about now
        self._last[engineer_id] = ts
        if last is None or engineer_id in self._offline:
            self._offline.discard(engineer_id)
            return PresenceChange(engineer_id, True, ts, ts)
        return None

    def sweep(self, now_ms: int) -> list[PresenceChange]:
        """Engineers silent longer than their timeout at event time ``now_ms`` (once each)."""
        out = []
        for eid, last in self._last.items():
            limit = self._timeout_s.get(eid, self.default_timeout_s) * 1000
            if eid not in self._offline and now_ms - last > limit:
                self._offline.add(eid)
                out.append(PresenceChange(eid, False, now_ms, last))
        return out
