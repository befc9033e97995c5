"""Geofence check-in/check-out on event time (pure: no I/O, no wall clock).

What an operator sees:

* ENTER (check-in): the engineer's fixes have been inside the fence (circle of radius
  ``r`` or a polygon) for ``dwell_enter_s`` of event time with ``min_fixes_enter`` fixes.
  ``ts`` is the estimated moment of arrival (interpolated on the segment from the last
  fix outside); ``dwell_s`` is the time inside when the check-in was confirmed.
* EXIT (check-out): after an ENTER, fixes beyond ``r + exit_margin_m`` for
  ``dwell_exit_s`` with ``min_fixes_exit`` fixes. Fixes between ``r`` and
  ``r + margin`` keep the engineer on site (hysteresis), so GPS jitter at the edge of a
  fence never makes enter/exit storms. ``ts`` is the estimated moment the outer ring was
  crossed; ``dwell_s`` is the whole time on site.
* Sparse phones (a fix every few minutes) leave before they can give that many fixes, or
  stop reporting once the job is done. A *far* fix, one whose distance beyond the fence
  exceeds ``far_exit_m`` plus its reported accuracy, is strong evidence: two far fixes in
  a row confirm the exit, and so does one far fix followed by ``silent_exit_s`` of stream
  time without any accepted fix (``advance``). A lone far outlier on site is followed by a
  fix on site well within that time, which cancels it.
* Crossing times between two fixes are interpolated on the segment, at the reported speed
  of the moving end when it is faster than the segment's average: an engineer who arrived
  and stopped crossed the fence early in the gap, one who stood and then drove off crossed
  it late.
* Drive-through: a straight segment between two sparse fixes that crosses a fence, or a
  stay shorter than the dwell, is detected and reported as a :class:`Crossing`
  (``take_crossings()``), never as ENTER/EXIT: a check-in needs a fix inside and the
  dwell, so driving past a site never moves its order to ``on_site``.
* Filtering: fixes whose accuracy is worse than ``max_accuracy_m`` are dropped, and so
  are fixes implying a speed above ``max_speed_mps`` from the last accepted fix (after
  ``max_rejects`` rejections in a row the new place is believed: the old fix was wrong).
* Event-time order: each engineer's fixes wait in a small buffer and are processed in
  ``ts`` order once older than that engineer's watermark (newest ``ts`` minus
  ``lateness_s``); duplicates collapse. A fix at or before the last processed ``ts`` is
  counted as late and ignored, so it can never contradict an event already published.
  ``advance(now_ms)`` releases buffers when an engineer goes quiet.
"""

from __future__ import annotations

import math
from bisect import insort
from dataclasses import asdict, dataclass, field
from typing import Any

from models.geo import haversine_m
from models.messages import GeofenceEvent, GeofenceKind, Position
from streams.fences import Fence, FenceIndex
from streams.presence import OfflineTracker, PresenceChange

__all__ = ["Crossing", "Fence", "FenceIndex", "GeofenceConfig", "GeofenceProcessor",
           "OfflineTracker", "PresenceChange"]


# (ts, accuracy_m or 0, lat, lon, speed_mps or -1): sorts by ts first
Fix = tuple[int, float, float, float, float]


@dataclass(frozen=True)
class GeofenceConfig:
    exit_margin_m: float = 50.0
    dwell_enter_s: float = 60.0
    min_fixes_enter: int = 2
    dwell_exit_s: float = 60.0
    min_fixes_exit: int = 3
    max_accuracy_m: float = 100.0
    max_speed_mps: float = 70.0
    max_rejects: int = 3
    lateness_s: float = 90.0
    max_strays: int = 1  # contrary fixes in a row a dwell candidate survives (outliers)
    max_gap_s: float = 600.0  # longer gaps are not interpolated as straight segments
    min_crossing_m: float = 40.0  # chord a fix-less pass-through must cut to be reported
    far_exit_m: float = 300.0  # beyond the fence by this plus the accuracy: a "far" fix
    silent_exit_s: float = 300.0  # a far fix then silence this long confirms the exit
    spike_m: float = 200.0  # an excursion this far (beyond accuracy) and straight back: outlier


@dataclass(frozen=True)
class Crossing:
    """A fence crossed without a check-in (drive-through, or a stay shorter than the dwell)."""

    engineer_id: str
    site_id: str
    enter_ts: int
    exit_ts: int
    inside_s: float

    def event(self) -> GeofenceEvent:
        """The ``pass_through`` event stored and published for it (it checks no one in)."""
        return GeofenceEvent(engineer_id=self.engineer_id, site_id=self.site_id,
                             kind=GeofenceKind.PASS_THROUGH, ts=self.enter_ts,
                             dwell_s=self.inside_s)


@dataclass
class _Site:
    inside: bool = False
    since_ts: int | None = None  # start of the enter (or, when inside, exit) candidate
    fixes: int = 0
    strays: int = 0
    entered_ts: int | None = None
    clear_before: bool = False  # the fix before the enter candidate was beyond r + margin
    far_fixes: int = 0  # far fixes in a row supporting the exit candidate
    far_ts: int | None = None  # ts of the latest of them


@dataclass
class _Engineer:
    buffer: list[Fix] = field(default_factory=list)
    max_ts: int | None = None
    last: Fix | None = None  # last accepted fix
    done_ts: int | None = None  # last processed ts (accepted or not)
    rejects: int = 0
    sites: dict[str, _Site] = field(default_factory=dict)


@dataclass
class GeofenceStats:
    accepted: int = 0
    inaccurate: int = 0
    jumps: int = 0
    late: int = 0
    duplicates: int = 0


class GeofenceProcessor:
    """Per-engineer geofence state machine; ``process`` returns the events it confirms."""

    def __init__(self, index: FenceIndex, config: GeofenceConfig | None = None) -> None:
        self.index = index
        self.config = config or GeofenceConfig()
        self.stats = GeofenceStats()
        self._eng: dict[str, _Engineer] = {}
        self._crossings: list[Crossing] = []

    def process(self, position: Position) -> list[GeofenceEvent]:
        st = self._eng.setdefault(position.engineer_id, _Engineer())
        if st.done_ts is not None and position.ts <= st.done_ts:
            self.stats.late += 1
            return []
        speed = -1.0 if position.speed_mps is None else position.speed_mps
        insort(st.buffer,
               (position.ts, position.accuracy_m or 0.0, position.lat, position.lon, speed))
        st.max_ts = position.ts if st.max_ts is None else max(st.max_ts, position.ts)
        return self._release(position.engineer_id, st, st.max_ts - self.config.lateness_s * 1000)

    def advance(self, now_ms: int) -> list[GeofenceEvent]:
        """Process buffered fixes older than ``now_ms - lateness`` (stream time moved on)."""
        out: list[GeofenceEvent] = []
        released = now_ms - self.config.lateness_s * 1000
        for eid, st in self._eng.items():
            out += self._release(eid, st, released)
            out += self._silent_exits(eid, st, released)
        return out

    def _silent_exits(self, eid: str, st: _Engineer, released: float) -> list[GeofenceEvent]:
        """Exits confirmed by a far fix and no accepted fix for ``silent_exit_s`` after it."""
        if st.last is None or released - st.last[0] < self.config.silent_exit_s * 1000:
            return []
        out: list[GeofenceEvent] = []
        for sid, s in list(st.sites.items()):
            if s.inside and s.since_ts is not None and s.far_ts == st.last[0]:
                out.append(self._exit(eid, sid, s, st.last))
                st.sites.pop(sid)
        return out

    def flush(self, engineer_id: str) -> list[GeofenceEvent]:
        st = self._eng.get(engineer_id)
        return self._release(engineer_id, st, math.inf) if st else []

    def take_crossings(self) -> list[Crossing]:
        out, self._crossings = self._crossings, []
        return out

    def engineers(self) -> list[str]:
        return list(self._eng)

    def inside_sites(self, engineer_id: str) -> list[str]:
        st = self._eng.get(engineer_id)
        return [k for k, s in st.sites.items() if s.inside] if st else []

    def state_snapshot(self, engineer_id: str) -> dict[str, Any]:
        """JSON-able state of one engineer (for a faust table keyed by engineer id)."""
        st = self._eng.get(engineer_id)
        return asdict(st) if st else {}

    def restore(self, engineer_id: str, snapshot: dict[str, Any]) -> None:
        if not snapshot:
            self._eng.pop(engineer_id, None)
            return
        fix = snapshot["last"]
        self._eng[engineer_id] = _Engineer(
            buffer=[_fix(f) for f in snapshot["buffer"]],
            max_ts=snapshot["max_ts"],
            last=_fix(fix) if fix else None,
            done_ts=snapshot["done_ts"],
            rejects=snapshot["rejects"],
            sites={k: _Site(**v) for k, v in snapshot["sites"].items()},
        )

    def _release(self, eid: str, st: _Engineer, watermark: float) -> list[GeofenceEvent]:
        cfg = self.config
        out: list[GeofenceEvent] = []
        while st.buffer and st.buffer[0][0] <= watermark:
            fix = st.buffer[0]
            if st.done_ts is not None and fix[0] <= st.done_ts:
                st.buffer.pop(0)
                self.stats.duplicates += 1
                continue
            if fix[1] > cfg.max_accuracy_m:
                st.buffer.pop(0)
                st.done_ts = fix[0]
                self.stats.inaccurate += 1
                continue
            after = next((f for f in st.buffer[1:]
                          if f[0] > fix[0] and f[1] <= cfg.max_accuracy_m), None)
            if after is not None and after[0] > watermark:
                after = None  # a fix before it may still arrive: not yet the successor
            if after is None and watermark < fix[0] + cfg.max_gap_s * 1000:
                break  # judged with its successor: wait for it (or for max_gap_s of silence)
            st.buffer.pop(0)
            st.done_ts = fix[0]
            if st.last is not None and after is not None and self._spike(st.last, fix, after):
                self.stats.jumps += 1
                continue
            out += self._step(eid, st, fix)
        return out

    def _spike(self, before: Fix, fix: Fix, after: Fix) -> bool:
        """``fix`` lies far off a path that comes straight back: an outlier, however
        accurate it claims to be (the median filter of GPS trackers). Sparse phones need
        it most: their fixes are too far apart in time for the speed filter to tell."""
        cfg = self.config
        if after[0] - before[0] > 2 * cfg.max_gap_s * 1000:
            return False
        out = haversine_m(before[2], before[3], fix[2], fix[3])
        back = haversine_m(fix[2], fix[3], after[2], after[3])
        across = haversine_m(before[2], before[3], after[2], after[3])
        excursion = min(out, back) - fix[1]
        if excursion <= cfg.spike_m or across >= excursion / 3:
            return False
        speeds = [f[4] for f in (before, fix, after) if f[4] >= 0]
        if not speeds:
            return True
        # a real trip out and back at the speeds the phone reported would have fitted
        needed = (out + back - before[1] - after[1]) / max(1.0, (after[0] - before[0]) / 1000)
        return needed > 1.5 * max(speeds) + 2.0

    def _accept(self, st: _Engineer, fix: Fix) -> bool:
        cfg = self.config
        prev = st.last
        if prev is not None:
            dist = haversine_m(prev[2], prev[3], fix[2], fix[3])
            slack = min(prev[1] + fix[1], 2 * cfg.max_accuracy_m)
            if dist - slack > cfg.max_speed_mps * (fix[0] - prev[0]) / 1000:
                st.rejects += 1
                if st.rejects <= cfg.max_rejects:
                    self.stats.jumps += 1
                    return False
        st.rejects = 0
        self.stats.accepted += 1
        return True

    def _step(self, eid: str, st: _Engineer, fix: Fix) -> list[GeofenceEvent]:
        if not self._accept(st, fix):
            return []
        prev = st.last
        st.last = fix
        if prev is not None and fix[0] - prev[0] > self.config.max_gap_s * 1000:
            prev = None
        lat, lon = fix[2], fix[3]
        near = self.index.nearby(lat, lon) if prev is None else self.index.along(
            prev[2], prev[3], lat, lon)
        fences = {f.site_id: f for f in near}
        for sid in st.sites:
            if sid not in fences and (f := self.index.get(sid)) is not None:
                fences[sid] = f
        out: list[GeofenceEvent] = []
        for sid, fence in fences.items():
            site = st.sites.get(sid) or _Site()
            out += self._site_step(eid, fence, site, prev, fix)
            if site.inside or site.since_ts is not None:
                st.sites[sid] = site
            else:
                st.sites.pop(sid, None)
        st.sites = {k: v for k, v in st.sites.items() if self.index.get(k) is not None}
        return sorted(out, key=lambda e: e.ts)

    def _exit(self, eid: str, site_id: str, s: _Site, fix: Fix) -> GeofenceEvent:
        assert s.entered_ts is not None and s.since_ts is not None
        done = GeofenceEvent(engineer_id=eid, site_id=site_id, kind=GeofenceKind.EXIT,
                             ts=s.since_ts, dwell_s=(s.since_ts - s.entered_ts) / 1000,
                             lat=fix[2], lon=fix[3])
        s.inside, s.since_ts, s.fixes, s.entered_ts = False, None, 0, None
        s.far_fixes, s.far_ts = 0, None
        return done

    def _site_step(
        self, eid: str, fence: Fence, s: _Site, prev: Fix | None, fix: Fix
    ) -> list[GeofenceEvent]:
        cfg = self.config
        ts, acc, lat, lon, _ = fix
        sd = fence.signed_distance_m(lat, lon)

        def at(frac: float, *, arriving: bool = False, leaving: bool = False) -> int:
            assert prev is not None
            return crossing_ts(prev, fix, frac, arriving=arriving, leaving=leaving)

        def event(kind: GeofenceKind, when: int, dwell_ms: int) -> GeofenceEvent:
            return GeofenceEvent(engineer_id=eid, site_id=fence.site_id, kind=kind, ts=when,
                                 dwell_s=dwell_ms / 1000, lat=lat, lon=lon)

        if s.inside:
            if sd <= cfg.exit_margin_m:
                s.strays += 1
                s.fixes = s.far_fixes = 0  # supporting fixes must come in a row
                s.far_ts = None
                if s.since_ts is None or s.strays > cfg.max_strays:
                    s.since_ts = None
                return []
            s.strays = 0
            if s.since_ts is None:
                iv = prev and fence.segment_inside(prev[2:4], fix[2:4], cfg.exit_margin_m)
                s.since_ts, s.fixes = (at(iv[1], leaving=True) if iv else ts), 0
            s.fixes += 1
            far = sd - acc > cfg.far_exit_m
            s.far_fixes, s.far_ts = (s.far_fixes + 1, ts) if far else (0, None)
            if s.far_fixes < 2 and (
                    ts - s.since_ts < cfg.dwell_exit_s * 1000 or s.fixes < cfg.min_fixes_exit):
                return []
            return [self._exit(eid, fence.site_id, s, fix)]
        if sd <= 0:
            s.strays = 0
            if s.since_ts is None:
                iv = prev and fence.segment_inside(prev[2:4], fix[2:4])
                s.since_ts, s.fixes = (at(iv[0], arriving=True) if iv else ts), 0
                s.clear_before = prev is not None and (
                    fence.signed_distance_m(prev[2], prev[3]) > cfg.exit_margin_m)
            s.fixes += 1
            if ts - s.since_ts < cfg.dwell_enter_s * 1000 or s.fixes < cfg.min_fixes_enter:
                return []
            s.inside, s.entered_ts = True, s.since_ts
            s.since_ts, s.fixes = None, 0
            return [event(GeofenceKind.ENTER, s.entered_ts, ts - s.entered_ts)]
        if s.since_ts is not None and s.strays < cfg.max_strays:
            s.strays += 1  # maybe an outlier: the enter candidate survives it
            s.fixes = 0
        elif s.since_ts is not None:  # a stay shorter than the dwell has ended
            if s.clear_before and sd > cfg.exit_margin_m and prev is not None:
                iv = fence.segment_inside(prev[2:4], fix[2:4])
                out_ts = at(iv[1]) if iv else prev[0]
                self._cross(eid, fence, s.since_ts, out_ts)
            s.since_ts, s.fixes, s.strays = None, 0, 0
        elif prev is not None and fence.signed_distance_m(prev[2], prev[3]) > 0:
            iv = fence.segment_inside(prev[2:4], fix[2:4])
            chord = haversine_m(prev[2], prev[3], lat, lon) * (iv[1] - iv[0]) if iv else 0.0
            if iv and chord >= cfg.min_crossing_m:
                self._cross(eid, fence, at(iv[0]), at(iv[1]))
        return []

    def _cross(self, eid: str, fence: Fence, enter_ts: int, exit_ts: int) -> None:
        self._crossings.append(
            Crossing(eid, fence.site_id, enter_ts, exit_ts, (exit_ts - enter_ts) / 1000))


def _fix(f: Any) -> Fix:
    """A fix from a snapshot (older snapshots have no speed)."""
    return (int(f[0]), f[1], f[2], f[3], f[4] if len(f) > 4 else -1.0)


def crossing_ts(prev: Fix, fix: Fix, frac: float, *, arriving: bool = False,
                leaving: bool = False) -> int:
    """When the straight segment ``prev -> fix`` reached ``frac`` of its length.

    Uniform motion over the gap by default. Arriving (``prev`` moving, ``fix`` at the
    site), the engineer drove at ``prev``'s reported speed and then stood, so the fence was
    crossed no later than that speed allows; leaving (``prev`` at the site, ``fix``
    moving), the engineer stood and then drove at ``fix``'s speed, so no earlier.
    """
    uniform = prev[0] + round(frac * (fix[0] - prev[0]))
    speed = prev[4] if arriving else fix[4] if leaving else -1.0
    if speed <= 0:
        return uniform
    length = haversine_m(prev[2], prev[3], fix[2], fix[3])
    if arriving:
        return min(uniform, prev[0] + round(1000 * frac * length / speed))
    return max(uniform, fix[0] - round(1000 * (1 - frac) * length / speed))
