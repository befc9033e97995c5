"""Alert rules grammar and the deduplicating alert processor."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.messages import AlertEvent, AlertState, Reading, Severity
from models.rules import RuleBook, RuleSyntaxError, parse_rule
from streams.alerts import AlertConfig, AlertProcessor

T0 = 1_700_000_000_000


def reading(t_s: float, **metrics: float) -> Reading:
    return Reading(device_id="d1", ts=T0 + int(t_s * 1000), metrics=metrics)


def proc(*rules: str, **cfg: float) -> AlertProcessor:
    p = AlertProcessor(RuleBook.parse({"pump": rules}), AlertConfig(**cfg))  # type: ignore[arg-type]
    p.register_device("d1", "pump", asset_id="a1", offline_timeout_s=600)
    return p


def feed(p: AlertProcessor, readings: list[Reading]) -> list[AlertEvent]:
    out: list[AlertEvent] = []
    for r in readings:
        out += p.process(r)
    return out


def states(events: list[AlertEvent]) -> list[str]:
    return [e.state.value for e in events]


def test_parse_rule_grammar() -> None:
    r = parse_rule("temperature > 90 for 60s clear at 85 after 2m severity critical as overheating")
    assert (r.metric, r.op, r.threshold, r.for_s, r.clear_at, r.clear_after_s) == (
        "temperature", ">", 90.0, 60.0, 85.0, 120.0)
    assert r.severity is Severity.CRITICAL and r.fault_type == "overheating"
    low = parse_rule("pressure <= -1.5")
    assert low.fault_type == "pressure_low" and low.for_s == 0
    assert parse_rule("vibration_rms > 7").fault_type == "vibration_rms_high"
    for bad in ("temperature >> 90", "temperature > hot", "t > 1 severity huge", ""):
        with pytest.raises(RuleSyntaxError):
            parse_rule(bad)


def test_a_bad_stored_rule_is_skipped_and_the_others_still_apply() -> None:
    spec: dict[str, list[object]] = {
        "pump": ["temperature > 90", "temperature >> 90", "pressure < 1 as leak"],
        "fan": [42, "rpm > 3000 severity huge"],
        "valve": ["flow > 5"],
    }
    book, bad = RuleBook.parse_each(spec)
    assert [r.fault_type for r in book.rules_for("pump")] == ["temperature_high", "leak"]
    assert book.rules_for("fan") == ()
    assert [r.metric for r in book.rules_for("valve")] == ["flow"]
    assert [(b.model, b.text) for b in bad] == [
        ("pump", "'temperature >> 90'"), ("fan", "42"), ("fan", "'rpm > 3000 severity huge'")]
    assert "unknown severity" in bad[2].error
    with pytest.raises(RuleSyntaxError):  # the all-or-nothing parse still refuses
        RuleBook.parse({"pump": ["temperature >> 90"]})
    p = AlertProcessor(book)
    p.register_device("d1", "pump", asset_id="a1")
    assert [e.fault_type for e in p.process(reading(0, temperature=95, pressure=0.5))] == [
        "temperature_high", "leak"]


def test_for_duration_then_one_alert_updates_rate_limited_and_clear() -> None:
    p = proc("temperature > 90 for 60s", update_interval_s=300, clear_after_s=120)
    hot = [reading(t, temperature=95) for t in range(0, 900, 10)]
    events = feed(p, hot)
    assert states(events)[0] == "opened" and events[0].ts == T0 + 60_000
    assert events[0].dedup_key == f"d1:temperature_high:{T0}"
    assert events[0].asset_id == "a1"
    assert states(events[1:]) == ["updated", "updated"]  # at 360 s and 660 s
    cool = feed(p, [reading(900 + t, temperature=80) for t in range(0, 200, 10)])
    assert states(cool) == ["cleared"] and cool[0].ts == T0 + 1_020_000
    again = feed(p, [reading(1200 + t, temperature=99) for t in range(0, 100, 10)])
    assert states(again) == ["opened"] and again[0].dedup_key != events[0].dedup_key


def test_short_spike_below_for_duration_opens_nothing() -> None:
    p = proc("temperature > 90 for 60s")
    readings = [reading(t, temperature=95 if 20 <= t < 60 else 70) for t in range(0, 200, 10)]
    assert feed(p, readings) == []


def test_clear_hysteresis_holds_between_levels() -> None:
    p = proc("temperature > 90 clear at 85 after 30s")
    events = feed(p, [reading(0, temperature=95)] +
                  [reading(t, temperature=88) for t in range(10, 200, 10)])
    assert states(events) == ["opened"]  # 88 is not hot, but not cool enough to clear


def test_offline_alert_and_clear_on_next_reading() -> None:
    p = proc("vibration_rms > 7")
    feed(p, [reading(0, vibration_rms=1)])
    assert p.sweep(T0 + 500_000) == []
    (off,) = p.sweep(T0 + 700_000)
    assert off.fault_type == "offline" and off.state is AlertState.OPENED
    assert p.sweep(T0 + 800_000) == []
    (back,) = feed(p, [reading(900, vibration_rms=1)])
    assert back.state is AlertState.CLEARED and back.dedup_key == off.dedup_key


def test_prediction_uses_the_same_dedup() -> None:
    p = proc()
    first = p.process_prediction("d1", T0, p_fail=0.8, rul=100)
    assert states(first) == ["opened"] and first[0].kind == "prediction"
    assert p.process_prediction("d1", T0 + 1000, p_fail=0.85) == []  # rate-limited update
    worse = p.process_prediction("d1", T0 + 2000, p_fail=0.95, rul=10)
    assert states(worse) == ["updated"] and worse[0].severity is Severity.CRITICAL
    assert p.process_prediction("d1", T0 + 3000, p_fail=0.5) == []  # above p_clear: hold


def test_adopt_after_restart_updates_instead_of_reopening() -> None:
    p = proc("temperature > 90")
    (opened,) = feed(p, [reading(0, temperature=95)])
    restarted = proc("temperature > 90")
    restarted.adopt(opened)
    events = feed(restarted, [reading(400, temperature=96)])
    assert states(events) == ["updated"] and events[0].dedup_key == opened.dedup_key
    assert restarted.open_keys() == {("d1", "temperature_high"): opened.dedup_key}


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(8, 60),
    dup=st.lists(st.integers(0, 59), max_size=30),
    seed=st.integers(0, 2**32 - 1),
)
def test_duplicated_shuffled_burst_gives_exactly_one_alert(
    n: int, dup: list[int], seed: int
) -> None:
    p = proc("temperature > 90 for 60s", "vibration_rms > 7")
    burst = [reading(t * 5, temperature=91 + t % 7, vibration_rms=8.0) for t in range(n)]
    burst += [burst[i % n] for i in dup]
    random.Random(seed).shuffle(burst)
    events = feed(p, burst)
    opened = [e for e in events if e.state is AlertState.OPENED]
    by_fault = {e.fault_type for e in opened}
    assert len(opened) == len(by_fault)  # at most one per fault type
    assert "vibration_rms_high" in by_fault
    assert ("temperature_high" in by_fault) == ((n - 1) * 5 >= 60)
    assert not [e for e in events if e.state is AlertState.CLEARED]
    assert len({e.dedup_key for e in events}) == len(by_fault)


@given(
    st.lists(st.tuples(st.integers(0, 400), st.sampled_from([0, 1, 2])), max_size=80),
    st.integers(5_000, 120_000),
)
def test_window_keeps_the_trailing_run_like_a_full_scan(
    samples: list[tuple[int, int]], horizon_ms: int
) -> None:
    """The incremental run (in-order samples) always equals a rescan of the window, and
    the window holds exactly the placeable samples, in order, within the horizon."""
    from streams.alerts import Window, run_by_scan

    w = Window()
    kept: dict[int, int] = {}
    for step, cls in samples:
        ts = step * 1000
        newest = max(kept, default=None)
        placeable = ts not in kept and (newest is None or ts >= newest - horizon_ms)
        assert w.add(ts, cls, 0.0, horizon_ms) == placeable
        if placeable:
            kept[ts] = cls
            newest = max(kept)
            kept = {t: c for t, c in kept.items() if t >= newest - horizon_ms}
        assert [(t, c) for t, c, _v in w.samples] == sorted(kept.items())
        if w.samples:
            assert (w.run_cls, w.run_start) == run_by_scan(w.samples)


@given(
    st.lists(st.tuples(st.integers(0, 400), st.sampled_from([0, 1, 2])), max_size=80),
    st.lists(st.tuples(st.integers(1, 30), st.sampled_from([0, 1, 2])), max_size=40),
    st.integers(5_000, 120_000),
)
def test_a_snapshotted_window_decides_in_order_samples_like_the_original(
    before: list[tuple[int, int]], after: list[tuple[int, int]], horizon_ms: int
) -> None:
    """A window's snapshot keeps its runs (not every sample): restored, it has the same
    trailing run and newest time, its runs are the original's, and every later in-order
    sample gets the same answer and the same trailing class. The run's start is the same
    too, except once the horizon trims a run that began before the snapshot: the original
    then starts it at its oldest kept sample, the restored window (which kept only the
    run's first and last) at a later one, never an earlier one."""
    import pickle

    from streams.alerts import Window, run_by_scan

    w = Window()
    for step, cls in before:
        w.add(step * 1000, cls, 0.0, horizon_ms)
    back: Window = pickle.loads(pickle.dumps(w))
    assert back.__getstate__() == w.__getstate__()
    if w.samples:
        assert back.samples[-1][0] == w.samples[-1][0]
        assert run_by_scan(back.samples) == run_by_scan(w.samples) == (w.run_cls, w.run_start)
    ts = max((t for t, _c, _v in w.samples), default=0)
    for gap, cls in after:
        ts += gap * 1000
        assert back.add(ts, cls, 0.0, horizon_ms) == w.add(ts, cls, 0.0, horizon_ms)
        assert back.run_cls == w.run_cls
        assert back.run_start >= w.run_start
        if back.run_start != w.run_start:
            assert w.run_start == w.samples[0][0]  # a run trimmed by the horizon


def test_a_window_snapshotted_before_runs_restores() -> None:
    """Snapshots written before windows kept runs (pickle's default slots state) load."""
    from streams.alerts import Window

    w = Window.__new__(Window)
    w.__setstate__((None, {"samples": [(1000, 0, 70.0), (2000, 1, 95.0)], "run_cls": 1,
                           "run_start": 2000}))
    assert (w.samples, w.run_cls, w.run_start) == ([(1000, 0, 70.0), (2000, 1, 95.0)], 1, 2000)


def test_prediction_interval_reaches_the_work_order() -> None:
    from streams.automation import order_for_alert

    p = proc()
    (opened,) = p.process_prediction("d1", T0, p_fail=1.0, rul=12.4, rul_unit="cycles",
                                     rul_interval=(5.2, 21.7, 0.9))
    assert opened.details["rul_interval"] == "5\u201322 cycles"
    assert opened.details["rul_interval_coverage"] == "90%"
    device = {"asset_id": "a1", "site_id": "s1", "customer_id": "c1", "required_skills": []}
    order = order_for_alert(opened, device)
    assert order.description.endswith(
        "Predicted time left: 12.4 cycles (90% interval 5\u201322 cycles).")
    (plain,) = proc().process_prediction("d1", T0, p_fail=1.0, rul=12.4, rul_unit="cycles")
    assert "rul_interval" not in plain.details  # a model without intervals: as before
    assert order_for_alert(plain, device).description.endswith("Predicted time left: 12.4 cycles.")
