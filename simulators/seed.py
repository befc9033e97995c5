"""Seed a scenario into the platform through the REST API (admin token).

Idempotent: a resource that exists already (HTTP 409) is left as it is, so a second run
with the same seed reuses the city. Engineers get users and tokens of their own when the
API offers ``POST /users`` and ``POST /users/{id}/tokens``; otherwise phones use the
admin token and the report says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from simulators.api import Api
from simulators.catalog import PARTS
from simulators.scenario import Scenario

log = logging.getLogger("fieldflow.simulators.seed")


@dataclass
class SeedResult:
    engineer_tokens: dict[str, str] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def seed(api: Api, sc: Scenario) -> SeedResult:
    """Create customers, asset models, sites, assets, engineers (and their tokens)."""
    out = SeedResult()

    def put(collection: str, bodies: list[dict[str, object]]) -> None:
        done = 0
        for body in bodies:
            if not api.ensure(collection, body):
                out.notes.append(f"POST /api/v1/{collection} is missing: not seeded")
                return
            done += 1
        out.created[collection] = done

    put("customers", [{"id": c.id, "name": c.name, "sla_tier": c.sla_tier}
                      for c in sc.customers])
    put("asset-models", [{"id": m.id, "name": m.name, "required_skills": list(m.required_skills),
                          "rules": list(m.rules), "reading_timeout_s": m.reading_timeout_s,
                          "service_minutes": m.service_minutes,
                          **({"fault_model": m.fault_model} if m.fault_model else {})}
                         for m in sc.models])
    put("sites", [{"id": s.id, "customer_id": s.customer_id, "name": s.name,
                   "address": f"{s.name}, simulated city", "lat": s.lat, "lon": s.lon,
                   "fence_radius_m": s.fence_radius_m} for s in sc.sites])
    put("assets", [{"id": a.id, "site_id": a.site_id, "model_id": a.model_id,
                    "serial": a.serial, "device_id": a.device_id} for a in sc.assets])
    put("engineers", [{"id": e.id, "name": e.name, "skills": list(e.skills),
                       "shift_start": e.shift_start, "shift_end": e.shift_end,
                       "home_lat": e.home_lat, "home_lon": e.home_lon} for e in sc.engineers])
    put("parts", [{"id": part, "name": part.replace("-", " ").title()} for part in PARTS])
    stocked = sum(api.set_van_stock(e.id, part, qty)
                  for e in sc.engineers for part, qty in e.van_stock.items())
    out.created["van-stock lines"] = stocked
    for e in sc.engineers:
        token = api.engineer_token(e.id, e.name)
        if token is None:
            out.notes.append("no engineer tokens (POST /api/v1/users + /users/{id}/tokens "
                             "missing or refused): phones act with the admin token")
            break
        out.engineer_tokens[e.id] = token
    log.info("seeded %s", out.created)
    return out
