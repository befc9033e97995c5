"""The scenario report: the platform's own figures against the simulator's truth (pure).

Inputs are the truth and what the API returned (orders, geofence events); output is the
issue's figures plus detail. Matching rules:

- an order belongs to a fault when it is on the fault's asset, has its fault type and
  was created between the onset and the heal (or the end of the run);
- a true arrival was checked in when a geofence ``enter`` of the same engineer at the
  same site lies within ``checkin_tolerance_s`` of it;
- ETA error at horizons 5, 10 and 20 minutes beside a great-circle baseline: see
  :mod:`simulators.etaeval`.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from typing import Any

from models.timeutil import parse_ts_ms
from simulators.devices import FaultTruth
from simulators.etaeval import BASELINE_SPEED_MPS, evaluate, format_eta_table
from simulators.truth import Arrival, Truth

KEYS = ("faults_injected", "orders_created", "duplicate_orders", "orders_closed",
        "orders_still_open",
        "arrivals_true", "checkins_detected", "eta_mae_s", "onset_to_order_s_p50",
        "onset_to_onsite_s_p50", "sla_compliance")


def ts_of(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return parse_ts_ms(value)
    except ValueError:
        return None


def orders_for_fault(fault: FaultTruth, orders: Iterable[dict[str, Any]], end_ms: int
                     ) -> list[dict[str, Any]]:
    until = fault.healed_ms if fault.healed_ms is not None else end_ms
    out = []
    for o in orders:
        created = ts_of(o.get("created_at"))
        if (o.get("asset_id") == fault.asset_id and o.get("fault_type") == fault.fault_type
                and created is not None and fault.onset_ms - 1000 <= created <= until):
            out.append(o)
    return sorted(out, key=lambda o: ts_of(o.get("created_at")) or 0)


def checked_in(arrival: Arrival, geofence: Iterable[dict[str, Any]], tolerance_s: float
               ) -> bool:
    for ev in geofence:
        ts = ts_of(ev.get("ts"))
        if (ev.get("kind") == "enter" and ev.get("engineer_id") == arrival.engineer_id
                and ev.get("site_id") == arrival.site_id and ts is not None
                and abs(ts - arrival.ts_ms) <= tolerance_s * 1000):
            return True
    return False


def checkin_ms(order: dict[str, Any], truth: Truth) -> int | None:
    """When the order went on site: the platform's stamp, except for manual check-ins,
    which the API stamps with wall-clock time; for those the phone's simulated time."""
    manual = truth.manual_checkin_ms.get(str(order.get("id")))
    return manual if manual is not None else ts_of(order.get("checkin_at"))


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


FINAL_STATUSES = frozenset({"closed", "cancelled"})


def still_open(orders: Iterable[dict[str, Any]]) -> dict[str, str]:
    """Order id -> status of the orders neither closed nor cancelled."""
    return {o["id"]: str(o.get("status")) for o in orders
            if o.get("status") not in FINAL_STATUSES}


def compute_report(
    truth: Truth,
    orders: list[dict[str, Any]],
    geofence: list[dict[str, Any]],
    *,
    checkin_tolerance_s: float = 600.0,
    baseline_speed_mps: float = BASELINE_SPEED_MPS,
) -> dict[str, Any]:
    """The report dict (``KEYS`` first, then detail)."""
    end = truth.ended_ms
    per_fault = {f.fault_id: orders_for_fault(f, orders, end) for f in truth.faults}
    matched_ids = {o["id"] for found in per_fault.values() for o in found}
    to_order, to_onsite = [], []
    for f in truth.faults:
        found = per_fault[f.fault_id]
        if not found:
            continue
        created = ts_of(found[0].get("created_at"))
        if created is not None:
            to_order.append((created - f.onset_ms) / 1000)
        checkin = checkin_ms(found[0], truth)
        if checkin is not None:
            to_onsite.append((checkin - f.onset_ms) / 1000)
    sla_ok = sla_n = 0
    for o in orders:
        due, checkin = ts_of(o.get("sla_due")), checkin_ms(o, truth)
        if due is not None and checkin is not None:
            sla_n += 1
            sla_ok += checkin <= due
    eta_table = evaluate(truth.trips, truth.eta_samples, truth.fixes,
                         baseline_speed_mps=baseline_speed_mps)
    eta = {h: None if r["ours"]["mae_min"] is None else round(r["ours"]["mae_min"] * 60, 1)
           for h, r in eta_table["horizons"].items()}
    detected = [a for a in truth.arrivals if checked_in(a, geofence, checkin_tolerance_s)]
    return {
        "faults_injected": len(truth.faults),
        "orders_created": len(orders),
        "duplicate_orders": sum(max(0, len(v) - 1) for v in per_fault.values()),
        "orders_closed": sum(1 for o in orders if o.get("status") == "closed"),
        # counted apart, by state: what the drain could not finish within its limit
        "orders_still_open": dict(Counter(still_open(orders).values())),
        "arrivals_true": len(truth.arrivals),
        "checkins_detected": len(detected),
        "eta_mae_s": eta if any(v is not None for v in eta.values()) else None,
        "onset_to_order_s_p50": _median(to_order),
        "onset_to_onsite_s_p50": _median(to_onsite),
        "sla_compliance": round(sla_ok / sla_n, 3) if sla_n else None,
        "eta": eta_table,
        "detail": {
            "faults_without_order": sorted(k for k, v in per_fault.items() if not v),
            "orders_per_fault": {k: [o["id"] for o in v] for k, v in per_fault.items()},
            "orders_not_from_a_fault": sorted(o["id"] for o in orders
                                              if o["id"] not in matched_ids),
            "orders_not_closed": {o["id"]: o.get("status") for o in orders
                                  if o.get("status") != "closed"},
            "arrivals_missed": [a.__dict__ for a in truth.arrivals if a not in detected],
            "manual_checkins": truth.manual_checkins,
            "onset_to_order_s": to_order,
            "onset_to_onsite_s": to_onsite,
            "eta_samples": len(truth.eta_samples),
        },
    }


def format_table(report: dict[str, Any]) -> str:
    """The figures as an aligned two-column table."""
    lines = ["FieldFlow scenario report", "-" * 44]
    for key in KEYS:
        value = report.get(key)
        if isinstance(value, dict):
            value = ", ".join(f"{k} {'-' if v is None else v}" for k, v in value.items()) or "0"
        lines.append(f"{key:<24} {'-' if value is None else value}")
    if "eta" in report:
        lines += ["", format_eta_table(report["eta"])]
    return "\n".join(lines)
