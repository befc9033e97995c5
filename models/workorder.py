"""The work-order lifecycle of DESIGN.md §6 as one pure state machine.

The API and the streams both call :func:`transition`; an illegal move raises
:class:`IllegalTransition` (HTTP 409), never a silent overwrite.
"""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    EN_ROUTE = "en_route"
    ON_SITE = "on_site"
    IN_PROGRESS = "in_progress"
    WAITING_PARTS = "waiting_parts"
    COMPLETED = "completed"
    SIGNED_OFF = "signed_off"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class DomainError(Exception):
    """Base of the errors the API maps to HTTP status codes in one handler."""

    status_code = 400


class IllegalTransition(DomainError):
    status_code = 409

    def __init__(self, current: Status, target: Status, reason: str = "") -> None:
        self.current = current
        self.target = target
        detail = f"illegal transition {current.value} -> {target.value}"
        super().__init__(f"{detail}: {reason}" if reason else detail)


# `rejected` is the engineer's answer; the order goes straight back to `new`
# (the rejection is recorded as an event, the stored status is `new`).
TERMINAL: frozenset[Status] = frozenset({Status.CLOSED, Status.CANCELLED})
OPEN: frozenset[Status] = frozenset(s for s in Status if s not in TERMINAL and s != Status.REJECTED)

_FORWARD: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.ASSIGNED}),
    Status.ASSIGNED: frozenset({Status.ACCEPTED, Status.REJECTED, Status.ASSIGNED}),
    Status.ACCEPTED: frozenset({Status.EN_ROUTE, Status.REJECTED}),
    Status.EN_ROUTE: frozenset({Status.ON_SITE}),
    Status.ON_SITE: frozenset({Status.IN_PROGRESS}),
    Status.IN_PROGRESS: frozenset({Status.WAITING_PARTS, Status.COMPLETED}),
    Status.WAITING_PARTS: frozenset({Status.IN_PROGRESS}),
    Status.COMPLETED: frozenset({Status.SIGNED_OFF}),
    Status.SIGNED_OFF: frozenset({Status.CLOSED}),
    Status.CLOSED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.REJECTED: frozenset({Status.ASSIGNED}),
}

# Requirements checked by the caller and passed in as facts, so this stays pure.
NEEDS_ENGINEER: frozenset[Status] = frozenset({Status.ASSIGNED})
NEEDS_REASON: frozenset[Status] = frozenset({Status.CANCELLED, Status.REJECTED})


def allowed_targets(current: Status) -> frozenset[Status]:
    targets = set(_FORWARD[current])
    if current in OPEN:
        targets.add(Status.CANCELLED)
    return frozenset(targets)


def stored_status(target: Status) -> Status:
    """The status an order holds after moving to ``target`` (rejected -> new)."""
    return Status.NEW if target == Status.REJECTED else target


def transition(
    current: Status,
    target: Status,
    *,
    engineer_id: str | None = None,
    reason: str = "",
    checklist_complete: bool = True,
    manual_on_site: bool = False,
) -> Status:
    """Validate ``current -> target`` and return the status to store.

    - ``assigned`` needs an engineer;
    - ``cancelled`` and ``rejected`` need a reason;
    - ``completed`` needs the checklist complete;
    - ``on_site`` set by hand (not by a geofence check-in) needs a reason.
    """
    if target not in allowed_targets(current):
        raise IllegalTransition(current, target)
    if target in NEEDS_ENGINEER and not engineer_id:
        raise IllegalTransition(current, target, "an engineer is required")
    if target in NEEDS_REASON and not reason.strip():
        raise IllegalTransition(current, target, "a reason is required")
    if target == Status.COMPLETED and not checklist_complete:
        raise IllegalTransition(current, target, "the checklist is not complete")
    if target == Status.ON_SITE and manual_on_site and not reason.strip():
        raise IllegalTransition(current, target, "a manual check-in needs a reason")
    return stored_status(target)
