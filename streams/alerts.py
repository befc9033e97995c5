"""Threshold rules and deduplicated alerts (pure: no I/O, no wall clock).

Rules are data, one line each, per asset model, in the grammar of ``models.rules``
(``temperature > 90 for 60s clear at 85 after 120s severity critical as overheating``).

One incident gives one alert: at most one open alert per (device, fault type), with the
dedup key ``f"{device}:{fault}:{start_ts}"`` (start of the violating run, event time).
Repeats while open give UPDATED at most every ``update_interval_s`` (or at once when the
severity rises); it clears after the value stays normal for the clear time; a later
violation opens a new alert with a new key. Each (device, fault) keeps its recent samples
sorted by event time, so out-of-order and duplicated readings are evaluated where they
belong and can never open a second alert for the same run. Predictions go through the
same machinery (``process_prediction``); silence beyond a device's timeout raises an
``offline`` alert in ``sweep(now_ms)``, cleared by its next reading.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter
from typing import Any

from models.messages import AlertEvent, AlertState, Reading, Severity
from models.rules import (  # the grammar lives below the streams and the API
    HOLD,
    NORMAL,
    VIOLATING,
    BadRule,
    Rule,
    RuleBook,
    RuleSyntaxError,
    parse_rule,
)

__all__ = [
    "HOLD", "NORMAL", "VIOLATING", "AlertConfig", "AlertProcessor", "BadRule", "Rule",
    "RuleBook", "RuleSyntaxError", "Window", "parse_rule", "run_by_scan",
]


@dataclass(frozen=True)
class AlertConfig:
    clear_after_s: float = 120.0
    update_interval_s: float = 300.0
    lateness_s: float = 300.0  # how far back a late reading is still evaluated
    offline_timeout_s: float = 900.0
    offline_severity: Severity = Severity.MAJOR
    p_open: float = 0.7
    p_clear: float = 0.4
    prediction_clear_s: float = 3600.0


@dataclass
class _Device:
    asset_model: str | None = None
    asset_id: str | None = None
    timeout_s: float | None = None
    last_ts: int | None = None
    offline_key: str | None = None


_TS, _CLS = itemgetter(0), itemgetter(1)


class Window:
    """A (device, fault)'s recent samples ``(ts, class, value)`` in event-time order, and
    the trailing run: the class of the newest sample and since when it has held.

    The run is kept incrementally for the usual in-order sample (O(1)); a late sample
    placed before the newest one rescans the window (``run_by_scan``)."""

    __slots__ = ("run_cls", "run_start", "samples")

    def __init__(self) -> None:
        self.samples: list[tuple[int, int, float]] = []
        self.run_cls = NORMAL
        self.run_start = 0

    def __getstate__(self) -> tuple[list[tuple[int, int, int]], int, int]:
        """Snapshots keep the runs, not every sample: ``(class, first ts, last ts)`` per
        run of one class (a device reading 10 times a second holds ~4,000 samples in the
        lateness horizon, which made each 5-s snapshot of a busy partition cost seconds).
        Restored, a run is its first and last sample: the trailing run, the newest time
        and the answer to every in-order sample are the same. Two things differ for at
        most one horizon after a restore: a late reading replayed into the middle of a
        run is placed beside those two instead of its exact neighbours, and once the
        horizon trims a run that began before the snapshot, its start moves to the run's
        last restored sample rather than the oldest real one left (so a run's age can
        look younger, delaying, never advancing, an open or a clear)."""
        s = self.samples
        if not s:
            return [], self.run_cls, self.run_start
        # The trailing run is known (run_cls since run_start): only what precedes it is
        # scanned, usually nothing.
        head = s[:bisect_left(s, self.run_start, key=_TS)]
        runs = []
        for cls, group in groupby(head, key=_CLS):
            members = list(group)
            runs.append((cls, members[0][0], members[-1][0]))
        runs.append((self.run_cls, self.run_start, s[-1][0]))
        return runs, self.run_cls, self.run_start

    def __setstate__(self, state: Any) -> None:
        if len(state) == 2:  # a snapshot from before: (None, slots)
            slots = state[1]
            self.samples, self.run_cls, self.run_start = (
                slots["samples"], slots["run_cls"], slots["run_start"])
            return
        runs, self.run_cls, self.run_start = state
        self.samples = []
        for cls, first, last in runs:
            self.samples.append((first, cls, math.nan))
            if last != first:
                self.samples.append((last, cls, math.nan))

    def add(self, ts: int, cls: int, value: float, horizon_ms: float) -> bool:
        """Place a sample and forget those older than ``horizon_ms`` before the newest;
        False (nothing changes) for a duplicate time or one too late to place."""
        s = self.samples
        if not s or ts > s[-1][0]:
            appended = True
            i = len(s)
        else:
            if ts < s[-1][0] - horizon_ms:
                return False
            i = bisect_left(s, ts, key=lambda x: x[0])
            if s[i][0] == ts:
                return False
            appended = False
        s.insert(i, (ts, cls, value))
        cut = s[-1][0] - horizon_ms
        while s[0][0] < cut:
            s.pop(0)
        if not appended or len(s) == 1:
            self.run_cls, self.run_start = run_by_scan(s)
        elif cls != self.run_cls:
            self.run_cls, self.run_start = cls, ts
        else:
            self.run_start = max(self.run_start, s[0][0])
        return True


def run_by_scan(samples: list[tuple[int, int, float]]) -> tuple[int, int]:
    """The trailing run of ``samples`` (non-empty), by walking back from the newest."""
    run_cls, run_start = samples[-1][1], samples[-1][0]
    for sample in reversed(samples):
        if sample[1] != run_cls:
            break
        run_start = sample[0]
    return run_cls, run_start


@dataclass
class _Track:
    window: Window = field(default_factory=Window)
    key: str | None = None  # dedup key of the open alert
    last_update_ts: int = 0
    severity: Severity = Severity.WARNING
    count: int = 0
    peak: float | None = None


class AlertProcessor:
    """One open alert per (device, fault type); ``process`` returns alert events."""

    def __init__(self, rulebook: RuleBook, config: AlertConfig | None = None) -> None:
        self.rulebook = rulebook
        self.config = config or AlertConfig()
        self._devices: dict[str, _Device] = {}
        self._tracks: dict[tuple[str, str], _Track] = {}

    def register_device(
        self, device_id: str, asset_model: str | None = None, asset_id: str | None = None,
        offline_timeout_s: float | None = None,
    ) -> None:
        d = self._devices.setdefault(device_id, _Device())
        d.asset_model, d.asset_id, d.timeout_s = asset_model, asset_id, offline_timeout_s

    def adopt(self, event: AlertEvent) -> None:
        """Mark an alert stored as open (after a restart) so it is updated, not re-opened."""
        track = self._tracks.setdefault((event.device_id, event.fault_type), _Track())
        track.key, track.severity, track.last_update_ts = event.dedup_key, event.severity, event.ts
        if event.kind == "offline":
            self._devices.setdefault(event.device_id, _Device()).offline_key = event.dedup_key

    def open_keys(self) -> dict[tuple[str, str], str]:
        keys = {k: t.key for k, t in self._tracks.items() if t.key}
        for dev_id, d in self._devices.items():
            if d.offline_key:
                keys[(dev_id, "offline")] = d.offline_key
        return keys

    def process(self, reading: Reading) -> list[AlertEvent]:
        dev = self._devices.setdefault(reading.device_id, _Device())
        out: list[AlertEvent] = []
        if dev.last_ts is None or reading.ts > dev.last_ts:
            dev.last_ts = reading.ts
            if dev.offline_key is not None:
                out.append(self._event(reading.device_id, "offline", "offline", dev.offline_key,
                                       AlertState.CLEARED, ts=reading.ts, value=None,
                                       severity=self.config.offline_severity,
                                       message="device reporting again"))
                dev.offline_key = None
        for rule in self.rulebook.rules_for(dev.asset_model):
            value = reading.metrics.get(rule.metric)
            if value is not None:
                out += self._evaluate(reading.device_id, rule, reading.ts, value,
                                      severity=rule.severity)
        return out

    def process_prediction(self, device_id: str, ts: int, p_fail: float,
                           *, rul: float | None = None, rul_unit: str = "h",
                           rul_interval: tuple[float, float, float] | None = None,
                           fault_type: str = "predicted_failure") -> list[AlertEvent]:
        """A fault-model output: opens at ``p_open``, clears below ``p_clear`` for a while.

        ``rul`` (remaining useful life, in ``rul_unit``: hours, or cycles for C-MAPSS)
        goes into the alert's details and message; so does ``rul_interval``, the
        prediction interval ``(low, high, coverage)`` when the model gives one."""
        cfg = self.config
        rule = Rule("p_fail", ">=", cfg.p_open, fault_type, clear_at=cfg.p_clear,
                    clear_after_s=cfg.prediction_clear_s, kind="prediction")
        severe = p_fail >= 0.9 or (rul is not None and rul < 24)
        extra = {} if rul is None else {"rul": f"{rul:g} {rul_unit}"}
        if rul is not None and rul_interval is not None:
            low, high, cover = rul_interval
            extra["rul_interval"] = f"{low:.0f}\u2013{high:.0f} {rul_unit}"
            extra["rul_interval_coverage"] = f"{cover:.0%}"
        return self._evaluate(device_id, rule, ts, p_fail, extra=extra,
                              severity=Severity.CRITICAL if severe else Severity.MAJOR)

    def sweep(self, now_ms: int) -> list[AlertEvent]:
        """``offline`` alerts for devices silent longer than their timeout at ``now_ms``."""
        out = []
        for dev_id, d in self._devices.items():
            timeout = d.timeout_s if d.timeout_s is not None else self.config.offline_timeout_s
            if d.last_ts is None or d.offline_key or now_ms - d.last_ts <= timeout * 1000:
                continue
            d.offline_key = f"{dev_id}:offline:{now_ms}"
            out.append(self._event(
                dev_id, "offline", "offline", d.offline_key, AlertState.OPENED, ts=now_ms,
                severity=self.config.offline_severity, value=None,
                message=f"silent for {(now_ms - d.last_ts) / 1000:.0f}s",
                details={"last_seen_ts": d.last_ts}))
        return out

    def _evaluate(self, device_id: str, rule: Rule, ts: int, value: float, *,
                  severity: Severity, extra: dict[str, str] | None = None) -> list[AlertEvent]:
        t = self._tracks.setdefault((device_id, rule.fault_type), _Track())
        w = t.window
        clear_s = self.config.clear_after_s if rule.clear_after_s is None else rule.clear_after_s
        horizon_ms = (max(rule.for_s, clear_s) + self.config.lateness_s) * 1000
        cls = rule.classify(value)
        if not w.add(ts, cls, value, horizon_ms):
            return []  # too late to place, or a duplicate
        now, run_cls, run_start = w.samples[-1][0], w.run_cls, w.run_start
        if (t.key is None and run_cls != VIOLATING) or (
                t.key is not None and run_cls != NORMAL and cls != VIOLATING):
            return []  # the common case: nothing to report, nothing to format
        extra = {"rule": rule.describe(), "metric": rule.metric, **(extra or {})}
        if t.key is None:
            if run_cls == VIOLATING and now - run_start >= rule.for_s * 1000:
                t.key = f"{device_id}:{rule.fault_type}:{run_start}"
                t.last_update_ts, t.severity, t.count, t.peak = now, severity, 1, value
                return [self._event(
                    device_id, rule.fault_type, rule.kind, t.key, AlertState.OPENED, ts=now,
                    severity=severity, message=f"{rule.describe()}: {value:g}", value=value,
                    details={**extra, "since_ts": run_start})]
            return []
        if run_cls == NORMAL and now - run_start >= clear_s * 1000:
            key, t.key = t.key, None
            return [self._event(
                device_id, rule.fault_type, rule.kind, key, AlertState.CLEARED, ts=now,
                severity=t.severity, message=f"normal since {run_start}", value=value,
                details={**extra, "count": t.count, "peak": t.peak})]
        if cls != VIOLATING:
            return []
        t.count += 1
        better = rule.op.startswith(">") == (value > (t.peak if t.peak is not None else value))
        t.peak = value if t.peak is None or better else t.peak
        rises = _rank(severity) > _rank(t.severity)
        if ts < now or (ts - t.last_update_ts < self.config.update_interval_s * 1000 and not rises):
            return []
        t.last_update_ts, t.severity = ts, max(severity, t.severity, key=_rank)
        return [self._event(
            device_id, rule.fault_type, rule.kind, t.key, AlertState.UPDATED, ts=ts,
            severity=t.severity, message=f"{rule.describe()}: {value:g}", value=value,
            details={**extra, "count": t.count, "peak": t.peak})]

    def _event(self, device_id: str, fault: str, kind: str, key: str, state: AlertState, *,
               ts: int, severity: Severity, message: str, value: float | None,
               details: dict[str, object] | None = None) -> AlertEvent:
        dev = self._devices.get(device_id)
        return AlertEvent(
            device_id=device_id, asset_id=dev.asset_id if dev else None, fault_type=fault,
            kind=kind, severity=severity, dedup_key=key, state=state, ts=ts, message=message,
            value=value, details=details or {})


def _rank(severity: Severity) -> int:
    return list(Severity).index(severity)
