"""Watermark per partition and state owned by partitions (streams/watermark.py)."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.presence import OfflineTracker
from streams.watermark import PartitionStates, Watermark, flowing_time

AHEAD = 600_000
DAY = 23 * 3600_000
T0 = 1_750_000_000_000


# -- watermark rules ---------------------------------------------------------------------
@given(st.lists(st.integers(0, 120_000), min_size=1, max_size=60),
       st.sets(st.integers(0, 59), max_size=10))
def test_a_clock_a_day_ahead_never_moves_the_watermark(steps: list[int], bad: set[int]) -> None:
    """The same records with some replaced by a device 23 h ahead: the watermark after
    each good record is the same as without the bad ones, and the bad ones are flagged."""
    clean, mixed = Watermark(AHEAD), Watermark(AHEAD)
    ts, wall = T0, T0
    for i, step in enumerate(steps):
        ts += step
        wall += 1000
        if i in bad:
            assert not mixed.observe(ts + DAY, wall)
            continue
        assert clean.observe(ts, wall) == mixed.observe(ts, wall)
        assert clean.value == mixed.value


@given(st.lists(st.tuples(st.integers(-300_000, 900_000), st.integers(0, 20_000)),
                min_size=1, max_size=80))
def test_watermark_never_goes_back(events: list[tuple[int, int]]) -> None:
    wm, wall, last = Watermark(AHEAD, idle_ms=5_000), T0, None
    for delta, gap in events:
        wall += gap
        wm.observe((wm.value or wall) + delta, wall)
        wm.tick(wall + gap // 2)
        if last is not None:
            assert wm.value is not None and wm.value >= last
        last = wm.value


def test_fresh_partition_refuses_a_first_record_far_ahead() -> None:
    wm = Watermark(AHEAD)
    assert not wm.observe(T0 + DAY, T0)
    assert wm.value is None
    assert wm.observe(T0 + 1000, T0)
    assert wm.value == T0 + 1000


def test_fresh_partition_measures_ahead_against_the_workers_time() -> None:
    """An accelerated simulator hours ahead of the wall clock: a partition that starts
    fresh on a worker whose other partitions are there already accepts its records."""
    wm = Watermark(AHEAD)
    assert wm.observe(T0 + 5 * 3600_000, T0, reference=T0 + 5 * 3600_000 - 30_000)


def test_idle_live_partition_follows_the_wall_clock() -> None:
    wm = Watermark(AHEAD, idle_ms=5_000)
    wm.observe(T0, T0)
    assert wm.tick(T0 + 4_000) == T0  # not idle yet
    assert wm.tick(T0 + 60_000) == T0 + 60_000
    assert wm.tick(T0 + 400_000) == T0 + 400_000  # a silent fleet still goes offline


def test_idle_accelerated_partition_follows_the_simulators_rate() -> None:
    """60x: records flowed at 60 s of event time per wall second; when they stop, the
    watermark goes on at that rate."""
    wm = Watermark(AHEAD, idle_ms=5_000)
    ts = T0 + 3600_000
    for s in range(11):  # 10 wall seconds of records, 60 s of event time each
        wm.observe(ts + s * 60_000, T0 + s * 1000, reference=ts)
    assert wm.rate == 60.0
    end = wm.value
    assert end is not None
    assert wm.tick(T0 + 10_000 + 5_000) == end + 300_000
    # ... for at most max_ahead past the last record: a simulator that stopped stops.
    assert wm.tick(T0 + 10_000 + 60_000) == end + AHEAD
    assert wm.tick(T0 + 10_000 + 3600_000) == end + AHEAD


def test_idle_partition_follows_the_partitions_where_records_flow() -> None:
    wm = Watermark(AHEAD, idle_ms=5_000)
    wm.observe(T0 + DAY, T0, reference=T0 + DAY)
    assert wm.tick(T0 + 3_000, reference=T0 + DAY + 500_000) == T0 + DAY  # not idle yet
    assert wm.tick(T0 + 6_000, reference=T0 + DAY + 500_000) == T0 + DAY + 500_000


def test_a_simulator_hours_ahead_elsewhere_does_not_drag_an_idle_live_partition() -> None:
    """A live device's partition goes idle while the worker's other partitions carry an
    accelerated simulator hours ahead: the live one keeps to the wall clock (else its
    devices would all go offline at once)."""
    wm = Watermark(AHEAD, idle_ms=5_000)
    wm.observe(T0 + 290_000, T0, reference=T0)  # a burst a few minutes ahead, then silence
    assert wm.tick(T0 + 60_000, reference=T0 + 3 * 3600_000) == T0 + 290_000
    assert wm.tick(T0 + 400_000, reference=T0 + 3 * 3600_000) == T0 + 400_000


def test_a_finished_simulator_does_not_leave_a_live_device_offline() -> None:
    """A simulator ran this partition hours ahead at 60x and stopped; later a live device
    reports on it (CI: test_streams after the simulations). Time comes back to the wall
    clock, so the device is not judged silent against the simulator's future; while the
    simulator still flows, a live record does not pull time back."""
    wm = Watermark(AHEAD, idle_ms=5_000)
    sim = T0 + 3 * 3600_000
    for s in range(11):
        assert wm.observe(sim + s * 60_000, T0 + s * 1000, reference=sim)
    assert wm.observe(T0 + 10_000, T0 + 10_000)  # live, but the simulator is still there
    assert wm.value == sim + 600_000
    assert wm.observe(T0 + 30_000, T0 + 30_000)  # 20 s after the simulator's last record
    assert wm.value == T0 + 30_000
    assert wm.observe(T0 + 320_000, T0 + 31_000)  # the device's burst runs on from there
    assert wm.value == T0 + 320_000
    assert wm.tick(T0 + 400_000) == T0 + 400_000  # idle: the wall clock


def test_a_restore_or_live_partitions_elsewhere_do_not_keep_a_finished_simulators_time() -> None:
    """CI again: the worker was killed mid-burst and restored the partition from a snapshot
    still in the simulator's future; the live burst came within seconds of the restore,
    and live records flowed on other partitions. Neither counts as the front being reached."""
    wm = Watermark(AHEAD, idle_ms=5_000)
    sim = T0 + 3 * 3600_000
    for s in range(11):
        wm.observe(sim + s * 60_000, T0 + s * 1000, reference=sim)
    assert wm.tick(T0 + 20_000, reference=T0 + 20_000) is not None  # live traffic elsewhere
    back: Watermark = pickle.loads(pickle.dumps(wm)).restored(T0 + 60_000)
    assert back.observe(T0 + 61_000, T0 + 61_000)
    assert back.value == T0 + 61_000


def test_partitions_left_in_the_future_do_not_hold_each_other_there() -> None:
    """CI (test_streams after the simulations, the worker killed mid-burst): two
    partitions a stopped simulator left 40 h ahead. A live record on one came too soon
    after the simulator to bring it back, then a restore: neither is records flowing at
    the front, so the other partition must not follow that future and stay in it."""
    sim = T0 + 40 * 3600_000
    a, b = Watermark(AHEAD, idle_ms=5_000), Watermark(AHEAD, idle_ms=5_000)
    a.observe(sim, T0, reference=sim)
    b.observe(sim + 18_000, T0 + 300, reference=sim)
    a.observe(T0 + 3_300, T0 + 3_300)  # live, 3 s after the simulator: it stays ahead
    a = pickle.loads(pickle.dumps(a)).restored(T0 + 7_300)
    wall = T0 + 11_300
    reference = flowing_time([a, b], wall)
    assert reference is None
    for wm in (a, b):
        wm.tick(wall, reference)
    assert b.observe(T0 + 15_300, T0 + 15_300)
    assert b.value == T0 + 15_300


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 2), min_size=1, max_size=30),
       st.lists(st.tuples(st.integers(0, 2), st.sampled_from(["record", "tick", "restore"]),
                          st.integers(0, 4_000)), min_size=1, max_size=120))
def test_a_live_record_after_a_stopped_simulator_brings_its_partition_to_live_time(
        simulated: list[int], events: list[tuple[int, str, int]]) -> None:
    """A simulator runs 40 h ahead on some of a worker's three partitions and stops; then
    live records, timer ticks (following :func:`flowing_time`, as the worker does) and
    restores in any order. Every live record from two idle periods after the simulator's
    last one on leaves its partition at live time."""
    idle = 5_000
    marks = [Watermark(AHEAD, idle_ms=idle) for _ in range(3)]
    sim, wall = T0 + 40 * 3600_000, T0
    for i, part in enumerate(simulated):
        wall = T0 + i * 300
        marks[part].observe(sim + i * 18_000, wall, reference=sim)
        reference = flowing_time(marks, wall)
        for wm in marks:
            wm.tick(wall, reference)
    end = wall
    for part, kind, step in events:
        wall += step
        if kind == "record":
            wm = marks[part]
            assert wm.observe(wall, wall, reference=wall if wm.value is None else None)
            if wall >= end + 2 * idle:
                assert wm.value is not None and wm.value - wall <= AHEAD
        elif kind == "tick":
            reference = flowing_time(marks, wall)
            for wm in marks:
                wm.tick(wall, reference)
        else:
            marks[part] = pickle.loads(pickle.dumps(marks[part])).restored(wall)


def test_skewed_records_do_not_keep_a_partition_from_idling() -> None:
    """A partition where only the bad clock still reports still goes on in time."""
    wm = Watermark(AHEAD, idle_ms=5_000)
    wm.observe(T0, T0)
    for s in range(1, 30):
        assert not wm.observe(T0 + DAY + s, T0 + s * 1000)
    assert wm.tick(T0 + 30_000) == T0 + 30_000


def test_restored_watermark_is_not_credited_for_the_time_nobody_owned_it() -> None:
    wm = Watermark(AHEAD, idle_ms=5_000)
    wm.observe(T0 + DAY, T0, reference=T0 + DAY)
    wm.rate = 60.0
    blob = pickle.dumps(wm)
    back: Watermark = pickle.loads(blob).restored(T0 + 120_000)  # 2 minutes later
    assert back.tick(T0 + 121_000) == T0 + DAY  # records are replayed instead


# -- state owned by partitions: any interleaving equals one worker -------------------------
@dataclass
class Part:
    """A partition's state as the workers hold it: its watermark and its engineers."""

    watermark: Watermark
    presence: OfflineTracker = field(default_factory=lambda: OfflineTracker(300.0))
    count: dict[str, int] = field(default_factory=dict)


def new_part(_p: int) -> Part:
    return Part(Watermark(AHEAD))


Record = tuple[str, int]  # (engineer, event time)
Op = tuple[str, int, int]  # (what, worker, partition)


def apply(state: Part, rec: Record, out: set[tuple[str, int, bool]]) -> None:
    eng, ts = rec
    state.watermark.observe(ts, ts)  # wall clock = event time: a live stream
    state.count[eng] = state.count.get(eng, 0) + 1
    change = state.presence.observe(eng, ts)
    if change:
        out.add((change.engineer_id, change.ts, change.online))  # business facts: by key
    if state.watermark.value is not None:
        for ch in state.presence.sweep(state.watermark.value):
            out.add((ch.engineer_id, ch.ts, ch.online))


@st.composite
def logs_and_schedule(draw: st.DrawFn) -> tuple[dict[int, list[Record]], list[Op]]:
    logs: dict[int, list[Record]] = {}
    for p in range(3):
        engs = [f"e{p}{i}" for i in range(draw(st.integers(1, 3)))]
        ts, recs = T0, []
        for _ in range(draw(st.integers(0, 25))):
            ts += draw(st.integers(0, 400_000))
            recs.append((draw(st.sampled_from(engs)), ts))
        logs[p] = recs
    kinds = ["assign", "revoke", "process", "process", "process", "snapshot", "crash"]
    ops = st.tuples(st.sampled_from(kinds), st.integers(0, 2), st.integers(0, 2))
    return logs, draw(st.lists(ops, min_size=3, max_size=60))  # (op, worker, partition)


@settings(max_examples=300, deadline=None)
@given(logs_and_schedule())
def test_any_interleaving_of_assignment_revocation_and_records_equals_one_worker(
        case: tuple[dict[int, list[Record]], list[Op]]) -> None:
    logs, schedule = case
    # One worker, the reference.
    ref_out: set[tuple[str, int, bool]] = set()
    ref = {p: new_part(p) for p in logs}
    for p, recs in logs.items():
        for rec in recs:
            apply(ref[p], rec, ref_out)

    # Three workers; snapshots (offset, pickled state) in "PostgreSQL"; positions per owner.
    workers = [PartitionStates(new_part) for _ in range(3)]
    position: dict[tuple[int, int], int] = {}
    snapshots: dict[int, tuple[int, bytes]] = {}
    owner: dict[int, int] = {}
    out: set[tuple[str, int, bool]] = set()

    def assign(w: int, p: int) -> None:
        snap = snapshots.get(p)
        workers[w].assign(p, pickle.loads(snap[1]) if snap else None)
        position[w, p] = snap[0] if snap else 0  # replay from the snapshot's offset
        owner[p] = w

    def revoke(w: int, p: int) -> None:  # flush and drop
        snapshots[p] = (position[w, p], pickle.dumps(workers[w].revoke(p)))
        del owner[p]

    for op, w, p in schedule:  # w: the worker that gains p; the other ops act on p's owner
        if op == "assign":
            if p in owner:
                revoke(owner[p], p)  # a rebalance moves it
            assign(w, p)
            continue
        if p not in owner:
            continue
        o = owner[p]
        if op == "revoke":
            revoke(o, p)
        elif op == "process":
            for rec in logs[p][position[o, p]:position[o, p] + 3]:
                apply(workers[o].get(p), rec, out)
                position[o, p] += 1
        elif op == "snapshot":
            snapshots[p] = (position[o, p], pickle.dumps(workers[o].get(p)))
        elif op == "crash":  # SIGKILL: every partition of the worker dropped, no flush
            for q in [q for q, x in owner.items() if x == o]:
                workers[o].revoke(q)
                del owner[q]
    for p in logs:  # the group settles: someone owns every partition and catches up
        w = owner.get(p)
        if w is None:
            assign(0, p)
            w = 0
        for rec in logs[p][position[w, p]:]:
            apply(workers[w].get(p), rec, out)
        got = workers[w].get(p)
        assert got.count == ref[p].count
        assert got.watermark.value == ref[p].watermark.value
        assert all(got.presence.last_seen(e) == ref[p].presence.last_seen(e)
                   for e in ref[p].count)
    assert out == ref_out
