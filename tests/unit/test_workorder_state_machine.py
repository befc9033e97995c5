"""Every legal and every illegal work-order transition (DESIGN.md §6)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.workorder import (
    OPEN,
    IllegalTransition,
    Status,
    allowed_targets,
    transition,
)

S = Status
LEGAL: set[tuple[Status, Status]] = {
    (S.NEW, S.ASSIGNED),
    (S.ASSIGNED, S.ASSIGNED),  # re-assignment to another engineer
    (S.ASSIGNED, S.ACCEPTED),
    (S.ASSIGNED, S.REJECTED),
    (S.ACCEPTED, S.EN_ROUTE),
    (S.ACCEPTED, S.REJECTED),
    (S.EN_ROUTE, S.ON_SITE),
    (S.ON_SITE, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.WAITING_PARTS),
    (S.WAITING_PARTS, S.IN_PROGRESS),
    (S.IN_PROGRESS, S.COMPLETED),
    (S.COMPLETED, S.SIGNED_OFF),
    (S.SIGNED_OFF, S.CLOSED),
    (S.REJECTED, S.ASSIGNED),
} | {(s, S.CANCELLED) for s in OPEN}

FACTS = {"engineer_id": "eng-1", "reason": "because"}


@pytest.mark.parametrize(("current", "target"), sorted(itertools.product(Status, Status)))
def test_every_pair(current: Status, target: Status) -> None:
    if (current, target) in LEGAL:
        result = transition(current, target, **FACTS)
        assert result == (S.NEW if target == S.REJECTED else target)
    else:
        with pytest.raises(IllegalTransition) as err:
            transition(current, target, **FACTS)
        assert err.value.status_code == 409
        assert current.value in str(err.value) and target.value in str(err.value)


def test_allowed_targets_match_the_table() -> None:
    for s in Status:
        assert allowed_targets(s) == {t for (c, t) in LEGAL if c == s}


def test_terminal_states_have_no_way_out() -> None:
    assert allowed_targets(S.CLOSED) == set()
    assert allowed_targets(S.CANCELLED) == set()


def test_assign_needs_an_engineer() -> None:
    with pytest.raises(IllegalTransition, match="engineer is required"):
        transition(S.NEW, S.ASSIGNED)


@pytest.mark.parametrize("target", [S.CANCELLED, S.REJECTED])
def test_cancel_and_reject_need_a_reason(target: Status) -> None:
    with pytest.raises(IllegalTransition, match="reason is required"):
        transition(S.ASSIGNED, target, reason="  ")


def test_completion_needs_the_checklist() -> None:
    with pytest.raises(IllegalTransition, match="checklist"):
        transition(S.IN_PROGRESS, S.COMPLETED, checklist_complete=False)
    assert transition(S.IN_PROGRESS, S.COMPLETED, checklist_complete=True) == S.COMPLETED


def test_manual_check_in_needs_a_reason() -> None:
    with pytest.raises(IllegalTransition, match="manual check-in"):
        transition(S.EN_ROUTE, S.ON_SITE, manual_on_site=True)
    assert transition(S.EN_ROUTE, S.ON_SITE, manual_on_site=True, reason="GPS off") == S.ON_SITE
    assert transition(S.EN_ROUTE, S.ON_SITE) == S.ON_SITE  # geofence check-in


@given(st.lists(st.sampled_from(list(Status)), max_size=30))
def test_any_walk_stays_inside_the_lifecycle(targets: list[Status]) -> None:
    """Applying arbitrary requests never reaches a state outside the machine, and
    nothing leaves a terminal state."""
    current = S.NEW
    for target in targets:
        try:
            current = transition(current, target, **FACTS)
        except IllegalTransition:
            continue
        assert current != S.REJECTED
    if current in (S.CLOSED, S.CANCELLED):
        assert allowed_targets(current) == set()
