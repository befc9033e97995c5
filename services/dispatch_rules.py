"""Why nobody can take an order, and what a dispatcher assigning by hand should know
(pure: data in, text out). Used by ``services.dispatching`` and ``services.planning``."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from dispatch.assign import fmt_clock, missing_parts, supplying_depots
from dispatch.types import DAY_S, PICKUP, Depot, Engineer, Visit
from services.picture import later_day


def pool_for(order_id: str, engineers: Iterable[Engineer],
             exclude: frozenset[str] = frozenset()) -> list[Engineer]:
    """The engineers to rank ``order_id`` against: minus ``exclude``, and with the order
    itself (and its booked pickup) taken off any route (re-dispatching an order that is
    already assigned)."""
    gone = {order_id, PICKUP + order_id}
    return [replace(e, route=tuple(i for i in e.route if i not in gone))
            if order_id in e.route else e for e in engineers if e.id not in exclude]


def window_missed(order: Visit, now_s: int, day: str | None = None) -> str | None:
    """Why nobody can meet the order's appointment window today (or on ``day``, a date
    from ``now_s`` on), when that is so."""
    if later_day(order):
        return (f"its appointment window starts after {day}" if day else
                "its appointment window starts on a later day (it is dispatched on that day,"
                " or plan that day)")
    if order.window_end_s <= 0:
        return (f"its appointment window ends before {day}" if day else
                "its appointment window ended before today")
    if order.window_end_s < now_s:
        return f"its appointment window ended at {fmt_clock(order.window_end_s)} UTC"
    return None


def why_nobody(order: Visit, engineers: Sequence[Engineer], now_s: int,
               exclude: frozenset[str] = frozenset(), depots: Sequence[Depot] = ()) -> str:
    """A dispatcher-readable reason why no engineer can take ``order`` now."""
    skilled = [e for e in engineers if order.skills <= e.skills]
    excluded = [e for e in skilled if e.id in exclude]
    skills = ", ".join(sorted(order.skills)) or "no special skills"
    note = f" ({len(excluded)} excluded: rejected it or not accepted in time)" if excluded else ""
    missed = window_missed(order, now_s)
    if missed is not None:
        return missed + note
    skilled = [e for e in skilled if e.id not in exclude]
    if not skilled:
        return f"no engineer has the skills it needs ({skills}){note}"
    online = [e for e in skilled if e.online]
    if not online:
        return f"{len(skilled)} engineer(s) have the skills ({skills}) but none is online{note}"
    on_shift = [e for e in online if e.shift_start_s <= now_s < e.shift_end_s]
    if not on_shift:
        return f"{len(online)} skilled engineer(s) online but none is on shift now{note}"
    stocked = [e for e in on_shift
               if not missing_parts(order.parts, e.van_stock)
               or supplying_depots(e, order, depots)]
    if not stocked:
        return (f"none of the {len(on_shift)} skilled engineer(s) on shift carries the parts "
                f"{dict(order.parts)} and no depot can supply them{note}")
    window = ("its time window" if (order.window_start_s, order.window_end_s) == (0, DAY_S)
              else f"its appointment window ({fmt_clock(order.window_start_s)}-"
              f"{fmt_clock(order.window_end_s)} UTC)")
    return (f"{len(stocked)} qualified engineer(s) on shift, but none can fit it into their "
            f"route within {window} and before their shift ends{note}")


def manual_warnings(order: Visit, e: Engineer | None, now_s: int) -> list[str]:
    """What a dispatcher should know when assigning ``order`` to ``e`` by hand."""
    missed = window_missed(order, now_s)
    out = [] if missed is None else [missed]
    if e is None:
        return [*out, "engineer has no home base or position: no ETA"]
    if not e.online:
        out.append("engineer is offline")
    if not e.shift_start_s <= now_s < e.shift_end_s:
        out.append("engineer is off shift now")
    missing = {p: q for p, q in order.parts.items() if e.van_stock.get(p, 0) < q}
    if missing:
        out.append(f"van lacks parts {missing}")
    return out


