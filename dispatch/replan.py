"""Re-planning after an event, keeping frozen visits, and saying what changed.

Events: an emergency order arrives, an engineer goes offline mid-shift, a visit runs
long. The rest of the day is re-planned from ``now_s`` with the batch planner; visits
that are en_route/on_site stay with their engineer at the head of the route in their
current order (except an offline engineer's, which are released to others). The
:class:`PlanDiff` lists reassigned, moved (re-sequenced or re-timed), newly assigned
and newly unassigned visits, for the dispatcher and the engineers' phones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from dispatch.plan import PlanOptions, plan_routes
from dispatch.types import Engineer, Plan, PlanDiff, Visit
from models.travel import TravelTimes
from models.workorder import Status

MOVE_TOLERANCE_S = 300  # a visit re-timed by less than 5 minutes has not "moved"


@dataclass(frozen=True)
class EmergencyOrder:
    visit: Visit


@dataclass(frozen=True)
class EngineerOffline:
    engineer_id: str


@dataclass(frozen=True)
class VisitOverrun:
    visit_id: str
    extra_s: int


ReplanEvent = EmergencyOrder | EngineerOffline | VisitOverrun


def apply_event(event: ReplanEvent, engineers: Sequence[Engineer],
                visits: Sequence[Visit]) -> tuple[list[Engineer], list[Visit]]:
    """The inputs as they are after ``event`` (pure; inputs untouched)."""
    engs, vis = list(engineers), list(visits)
    if isinstance(event, EmergencyOrder):
        vis.append(event.visit)
    elif isinstance(event, EngineerOffline):
        engs = [replace(e, online=False) if e.id == event.engineer_id else e for e in engs]
        vis = [replace(v, engineer_id=None, frozen=False, status=Status.ASSIGNED)
               if v.engineer_id == event.engineer_id else v for v in vis]
    else:
        vis = [replace(v, service_s=v.service_s + event.extra_s) if v.id == event.visit_id
               else v for v in vis]
    return engs, vis


def replan(event: ReplanEvent, engineers: Sequence[Engineer], visits: Sequence[Visit],
           current: Plan, travel: TravelTimes, *, now_s: int,
           options: PlanOptions | None = None) -> tuple[Plan, PlanDiff]:
    """Re-plan the remaining ``visits`` after ``event``; frozen visits keep their place."""
    engs, vis = apply_event(event, engineers, visits)
    owner = {vid: eid for eid, r in current.routes.items() for vid in r.visit_ids}
    vis = [replace(v, engineer_id=owner.get(v.id)) if v.is_frozen and v.engineer_id is None
           else v for v in vis]
    engs = [replace(e, route=current.routes[e.id].visit_ids) if e.id in current.routes else e
            for e in engs]
    opt = replace(options or PlanOptions(), now_s=now_s)
    new = plan_routes(engs, vis, travel, opt)
    return new, diff_plans(current, new)


def diff_plans(old: Plan, new: Plan) -> PlanDiff:
    """What changed from ``old`` to ``new``, visit by visit."""
    old_where = {s.visit_id: (eid, k, s.start_s) for eid, r in old.routes.items()
                 for k, s in enumerate(r.stops)}
    new_where = {s.visit_id: (eid, k, s.start_s) for eid, r in new.routes.items()
                 for k, s in enumerate(r.stops)}
    reassigned: dict[str, tuple[str, str]] = {}
    moved: list[str] = []
    newly_assigned: dict[str, str] = {}
    newly_unassigned: dict[str, str] = {}
    for vid, (eid, k, start) in old_where.items():
        if vid not in new_where:
            if vid in new.unassigned:
                newly_unassigned[vid] = new.unassigned[vid]
            continue
        n_eid, n_k, n_start = new_where[vid]
        if n_eid != eid:
            reassigned[vid] = (eid, n_eid)
        elif n_k != k or abs(n_start - start) > MOVE_TOLERANCE_S:
            moved.append(vid)
    for vid, (eid, _, _) in new_where.items():
        if vid not in old_where:
            newly_assigned[vid] = eid
    newly_unassigned |= {vid: reason for vid, reason in new.unassigned.items()
                         if vid not in old_where and vid not in old.unassigned}
    return PlanDiff(reassigned, tuple(sorted(moved)), newly_assigned, newly_unassigned)
