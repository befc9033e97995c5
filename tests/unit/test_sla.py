"""SLA timers: accept escalation per priority, ETA risk, breach recording (event time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from models.messages import AlertState, Severity
from models.workorder import Priority, Status
from services.transitions import arrived_late
from stack.settings import Settings
from streams.sla import (
    NOT_ON_SITE,
    Escalation,
    SlaBreach,
    SlaPolicy,
    SlaRisk,
    SlaTimers,
    sla_risk_cleared,
)

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


def test_default_accept_times_are_the_settings_defaults() -> None:
    field = Settings.model_fields["accept_within_s"]
    default = field.get_default(call_default_factory=True)  # not the environment's
    assert {p.value: s for p, s in SlaPolicy().accept_within_s.items()} == {
        p: float(s) for p, s in default.items()}
    policy = SlaPolicy.from_settings({"P1": 120, "P2": 600})
    assert policy.accept_timeout_ms(Priority.P1) == 120_000
    assert policy.accept_timeout_ms(Priority.P4) == SlaPolicy().accept_timeout_ms(Priority.P4)


def test_sla_risk_clears_once_the_order_is_no_longer_on_its_way() -> None:
    assert Status.ON_SITE not in NOT_ON_SITE and Status.CANCELLED not in NOT_ON_SITE
    assert Status.EN_ROUTE in NOT_ON_SITE and Status.NEW in NOT_ON_SITE
    ev = sla_risk_cleared("WO-1", "sla:WO-1", "on_site", T0, Severity.MAJOR)
    assert (ev.device_id, ev.fault_type, ev.kind, ev.dedup_key, ev.state, ev.ts) == (
        "WO-1", "sla_risk", "sla_risk", "sla:WO-1", AlertState.CLEARED, T0)
    assert ev.details == {"work_order_id": "WO-1", "status": "on_site"}


def test_check_in_after_the_due_time_breaches_the_sla() -> None:
    due = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert arrived_late(due, due + timedelta(seconds=1))
    assert not arrived_late(due, due)  # on the dot is in time
    assert not arrived_late(due, due - timedelta(minutes=5))
    assert not arrived_late(None, due)
