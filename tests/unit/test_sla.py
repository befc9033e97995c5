"""SLA timers: accept escalation per priority, ETA risk, breach recording (event time)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from models.workorder import Priority
from streams.sla import Escalation, SlaBreach, SlaPolicy, SlaRisk, SlaTimers

T0 = 1_700_000_000_000
MIN = 60_000


def timers() -> SlaTimers:
    return SlaTimers(SlaPolicy(accept_within_s={Priority.P1: 300, Priority.P3: 3600}))


def test_unaccepted_order_escalates_once_per_assignment() -> None:
    t = timers()
    t.track("wo-1", Priority.P1, due_ts=T0 + 240 * MIN)
    t.on_assigned("wo-1", "e1", T0)
    assert t.sweep(T0 + 4 * MIN) == []
    (esc,) = t.sweep(T0 + 5 * MIN)
    assert isinstance(esc, Escalation) and esc.engineer_id == "e1" and esc.attempt == 1
    assert t.sweep(T0 + 6 * MIN) == []
    t.on_assigned("wo-1", "e2", T0 + 6 * MIN)  # re-dispatched to the next candidate
    (esc2,) = t.sweep(T0 + 12 * MIN)
    assert isinstance(esc2, Escalation) and esc2.engineer_id == "e2" and esc2.attempt == 2


def test_accepted_in_time_does_not_escalate_and_priority_matters() -> None:
    t = timers()
    t.track("wo-1", Priority.P1, None)
    t.track("wo-3", Priority.P3, None)
    t.on_assigned("wo-1", "e1", T0)
    t.on_assigned("wo-3", "e3", T0)
    t.on_accepted("wo-1", T0 + MIN)
    assert t.sweep(T0 + 30 * MIN) == []
    assert [d.work_order_id for d in t.sweep(T0 + 61 * MIN)] == ["wo-3"]


def test_eta_past_due_raises_and_clears_sla_risk_on_change_only() -> None:
    t = timers()
    t.track("wo-1", Priority.P2, due_ts=T0 + 60 * MIN)
    assert t.on_eta("wo-1", T0 + 50 * MIN, T0) is None
    risk = t.on_eta("wo-1", T0 + 70 * MIN, T0 + MIN)
    assert isinstance(risk, SlaRisk) and risk.at_risk and risk.late_by_s == 600
    assert t.on_eta("wo-1", T0 + 75 * MIN, T0 + 2 * MIN) is None
    back = t.on_eta("wo-1", T0 + 55 * MIN, T0 + 3 * MIN)
    assert back is not None and not back.at_risk


def test_breach_recorded_once_by_sweep_or_late_arrival() -> None:
    t = timers()
    t.track("wo-1", Priority.P2, due_ts=T0 + 60 * MIN)
    t.track("wo-2", Priority.P2, due_ts=T0 + 60 * MIN)
    assert t.on_arrived("wo-2", T0 + 59 * MIN) is None
    (breach,) = t.sweep(T0 + 61 * MIN)
    assert isinstance(breach, SlaBreach) and breach.reason == "not_on_site"
    assert t.on_arrived("wo-1", T0 + 70 * MIN) is None  # already recorded
    t.track("wo-3", Priority.P2, due_ts=T0)
    late = t.on_arrived("wo-3", T0 + MIN)
    assert late is not None and late.reason == "arrived_late" and late.late_by_s == 60


def test_snapshot_restore_round_trip() -> None:
    t = timers()
    t.track("wo-1", Priority.P1, due_ts=T0 + 60 * MIN)
    t.on_assigned("wo-1", "e1", T0)
    again = timers()
    again.restore(t.state_snapshot())
    assert again.sweep(T0 + 5 * MIN) == t.sweep(T0 + 5 * MIN)


@given(st.lists(st.integers(0, 200 * MIN), min_size=1, max_size=30))
def test_sweeps_at_any_times_escalate_at_most_once_and_breach_at_most_once(
    times: list[int]
) -> None:
    t = timers()
    t.track("wo-1", Priority.P1, due_ts=T0 + 60 * MIN)
    t.on_assigned("wo-1", "e1", T0)
    decisions = [d for now in sorted(times) for d in t.sweep(T0 + now)]
    assert sum(isinstance(d, Escalation) for d in decisions) <= 1
    assert sum(isinstance(d, SlaBreach) for d in decisions) <= 1
