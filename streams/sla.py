"""SLA timers on event time (pure: no I/O, no wall clock; the simulator clock may run fast).

Three decisions, each returned as a small frozen dataclass for the agent to act on:

* :class:`Escalation`: an order assigned but not accepted within the priority's
  ``accept_within_s`` -> escalate (event on ``events.workorders``) and re-dispatch to the
  next candidate. One per assignment; a new ``on_assigned`` re-arms the timer.
* :class:`SlaRisk`: the live ETA passes the SLA due time (minus ``risk_margin_s``) ->
  raise an ``sla_risk`` alert; ``at_risk=False`` once the ETA is back in time (clear it).
  Only changes are returned, so ETA updates do not flood the alert topic.
* :class:`SlaBreach`: the engineer was not on site by the due time (found by ``sweep``) or
  arrived late (``on_arrived``) -> record the breach on the order. At most one per order.

The SLA due time is the response target: arrival on site (geofence check-in).

The worker does not run :class:`SlaTimers` (its escalation is the query in
``streams/automation.py``, breaches and ``sla_risk`` clears are SQL on the stream clock in
``streams/sla_watch.py``); it uses :data:`NOT_ON_SITE` and :func:`sla_risk_cleared`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from models.messages import AlertEvent, AlertState, Severity
from models.workorder import Priority, Status
from stack.settings import DEFAULT_ACCEPT_WITHIN_S

# The defaults of FIELDFLOW_ACCEPT_WITHIN_S (one source: stack/settings.py).
DEFAULT_ACCEPT_S: Mapping[Priority, float] = {
    Priority(p): float(s) for p, s in DEFAULT_ACCEPT_WITHIN_S.items()}


@dataclass(frozen=True)
class SlaPolicy:
    accept_within_s: Mapping[Priority, float] = field(
        default_factory=lambda: dict(DEFAULT_ACCEPT_S))
    risk_margin_s: float = 0.0

    @classmethod
    def from_settings(cls, accept_within_s: Mapping[str, float],
                      risk_margin_s: float = 0.0) -> SlaPolicy:
        """From ``FIELDFLOW_ACCEPT_WITHIN_S`` (keys ``"P1"``..``"P4"``)."""
        return cls({Priority(p): float(s) for p, s in accept_within_s.items()}, risk_margin_s)

    def accept_timeout_ms(self, priority: Priority) -> int:
        return int(self.accept_within_s.get(priority, DEFAULT_ACCEPT_S[priority]) * 1000)


@dataclass(frozen=True)
class Escalation:
    work_order_id: str
    ts: int
    priority: Priority
    engineer_id: str | None
    waited_s: float
    attempt: int  # 1 for the first escalation of this order


@dataclass(frozen=True)
class SlaRisk:
    work_order_id: str
    ts: int
    eta_ts: int
    due_ts: int
    late_by_s: float
    at_risk: bool


@dataclass(frozen=True)
class SlaBreach:
    work_order_id: str
    ts: int
    due_ts: int
    late_by_s: float
    reason: str  # "not_on_site" | "arrived_late"


SlaDecision = Escalation | SlaRisk | SlaBreach


@dataclass
class _Order:
    priority: Priority
    due_ts: int | None
    engineer_id: str | None = None
    assigned_ts: int | None = None  # armed accept timer
    escalations: int = 0
    at_risk: bool = False
    arrived: bool = False
    breached: bool = False


class SlaTimers:
    """Per-order SLA state; feed lifecycle facts in, get decisions out."""

    def __init__(self, policy: SlaPolicy | None = None) -> None:
        self.policy = policy or SlaPolicy()
        self._orders: dict[str, _Order] = {}

    def track(self, work_order_id: str, priority: Priority, due_ts: int | None) -> None:
        """Start watching an open order (or update its priority / due time)."""
        o = self._orders.get(work_order_id)
        if o is None:
            self._orders[work_order_id] = _Order(priority, due_ts)
        else:
            o.priority, o.due_ts = priority, due_ts

    def untrack(self, work_order_id: str) -> None:
        """The order is completed, cancelled or closed: no more timers."""
        self._orders.pop(work_order_id, None)

    def on_assigned(self, work_order_id: str, engineer_id: str, ts: int) -> None:
        o = self._orders.get(work_order_id)
        if o is not None:
            o.engineer_id, o.assigned_ts = engineer_id, ts

    def on_accepted(self, work_order_id: str, ts: int) -> None:
        o = self._orders.get(work_order_id)
        if o is not None and o.assigned_ts is not None and ts >= o.assigned_ts:
            o.assigned_ts = None

    def on_eta(self, work_order_id: str, eta_ts: int, ts: int) -> SlaRisk | None:
        """An ETA update: a risk decision when the at-risk state changes, else None."""
        o = self._orders.get(work_order_id)
        if o is None or o.due_ts is None or o.arrived:
            return None
        late_ms = eta_ts - (o.due_ts - int(self.policy.risk_margin_s * 1000))
        at_risk = late_ms > 0
        if at_risk == o.at_risk:
            return None
        o.at_risk = at_risk
        return SlaRisk(work_order_id, ts, eta_ts, o.due_ts, max(0.0, (eta_ts - o.due_ts) / 1000),
                       at_risk)

    def on_arrived(self, work_order_id: str, ts: int) -> SlaBreach | None:
        """Geofence check-in (or manual on_site): a breach if after the due time."""
        o = self._orders.get(work_order_id)
        if o is None or o.arrived:
            return None
        o.arrived, o.assigned_ts = True, None
        if o.due_ts is None or ts <= o.due_ts or o.breached:
            return None
        o.breached = True
        return SlaBreach(work_order_id, ts, o.due_ts, (ts - o.due_ts) / 1000, "arrived_late")

    def sweep(self, now_ms: int) -> list[SlaDecision]:
        """Timers that expired by event time ``now_ms`` (escalations, then breaches)."""
        out: list[SlaDecision] = []
        for oid, o in self._orders.items():
            if o.assigned_ts is not None and (
                    now_ms - o.assigned_ts >= self.policy.accept_timeout_ms(o.priority)):
                o.escalations += 1
                out.append(Escalation(oid, now_ms, o.priority, o.engineer_id,
                                      (now_ms - o.assigned_ts) / 1000, o.escalations))
                o.assigned_ts = None
            if o.due_ts is not None and not (o.arrived or o.breached) and now_ms > o.due_ts:
                o.breached = True
                out.append(SlaBreach(oid, now_ms, o.due_ts, (now_ms - o.due_ts) / 1000,
                                     "not_on_site"))
        return out

    def state_snapshot(self) -> dict[str, Any]:
        return {oid: asdict(o) for oid, o in self._orders.items()}

    def restore(self, snapshot: Mapping[str, Mapping[str, Any]]) -> None:
        self._orders = {oid: _Order(**{**o, "priority": Priority(o["priority"])})
                        for oid, o in snapshot.items()}


# Orders whose engineer has not checked in yet: past ``sla_due`` in one of these, the SLA
# is breached (``not on site``); out of them (on site or later, or cancelled), the
# order's ``sla_risk`` alert is over.
NOT_ON_SITE: tuple[Status, ...] = (Status.NEW, Status.ASSIGNED, Status.ACCEPTED,
                                   Status.EN_ROUTE)


def sla_risk_cleared(work_order_id: str, dedup_key: str, status: str, ts: int,
                     severity: Severity = Severity.MAJOR) -> AlertEvent:
    """The ``cleared`` event of an order's ``sla_risk`` alert once it is no longer on its way."""
    return AlertEvent(
        device_id=work_order_id, fault_type="sla_risk", kind="sla_risk", severity=severity,
        dedup_key=dedup_key, state=AlertState.CLEARED, ts=ts, message=f"order is {status}",
        details={"work_order_id": work_order_id, "status": status})
