"""Helpers (no tests) for the API e2e tests: build a small world through the API."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def day_left_or_skip(hours: float = 2.5) -> None:
    """Skip a test that dispatches work for today when the UTC day (the world's engineers'
    shift, 00:00-23:59:59) has less than ``hours`` left: no order fits into what remains
    of the shift, so the dispatcher rightly refuses (CI at 23:00 UTC, 2026-12-04)."""
    now = datetime.now(UTC)
    if (now + timedelta(hours=hours)).date() != now.date():
        pytest.skip(f"less than {hours} h left of the UTC day: today's shift is over")


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, f"{resp.request.method} {resp.request.url}: {resp.text}"
    return resp.json() if resp.content else None


def assert_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    err = resp.json()["error"]
    assert err["status"] == status
    assert isinstance(err["message"], str) and err["message"]
    return err


@dataclass
class World:
    customer: str
    site: str
    model: str
    asset: str
    device: str
    part: str
    engineers: list[str]
    tokens: dict[str, str]  # engineer id -> token
    lat: float
    lon: float


def make_engineer(api: httpx.Client, *, lat: float, lon: float, part: str | None = None,
                  qty: int = 5) -> tuple[str, str]:
    eid = uid("eng")
    ok(api.post("/api/v1/engineers", json={
        "id": eid, "name": f"Engineer {eid[-4:]}", "skills": ["hvac"],
        "shift_start": "00:00", "shift_end": "23:59:59", "home_lat": lat, "home_lon": lon}), 201)
    user = uid("user")
    ok(api.post("/api/v1/users", json={"id": user, "name": "Eng user", "role": "engineer",
                                      "engineer_id": eid}), 201)
    token = ok(api.post(f"/api/v1/users/{user}/tokens", json={}), 201)["token"]
    if part:
        ok(api.put(f"/api/v1/engineers/{eid}/van-stock/{part}", json={"qty": qty}))
    return eid, token


def make_world(stack: Stack, *, engineers: int = 2, lat: float = 51.50,
               lon: float = -0.12) -> World:
    with stack.api() as api:
        cust, site, model, asset, dev, part = (uid(p) for p in
                                               ("cust", "site", "model", "asset", "dev", "part"))
        ok(api.post("/api/v1/customers", json={
            "id": cust, "name": "Acme Cooling", "sla_tier": "gold",
            "contacts": [{"name": "Ada", "email": "ada@example.com"}]}), 201)
        ok(api.post("/api/v1/sites", json={
            "id": site, "customer_id": cust, "name": "Acme HQ", "address": "1 Main St",
            "lat": lat, "lon": lon, "fence_radius_m": 120}), 201)
        ok(api.post("/api/v1/asset-models", json={
            "id": model, "name": "Chiller X", "required_skills": ["hvac"],
            "rules": ["temperature > 90 for 60s"]}), 201)
        ok(api.post("/api/v1/assets", json={
            "id": asset, "site_id": site, "model_id": model, "serial": "SN-1",
            "installed_on": "2024-05-01", "device_id": dev}), 201)
        ok(api.post("/api/v1/parts", json={"id": part, "name": "Compressor relay",
                                           "unit_cost": "12.50", "low_stock_threshold": 2}), 201)
        engs, tokens = [], {}
        for i in range(engineers):
            eid, token = make_engineer(api, lat=lat + 0.01 * (i + 1), lon=lon, part=part, qty=3)
            engs.append(eid)
            tokens[eid] = token
    return World(cust, site, model, asset, dev, part, engs, tokens, lat, lon)


def make_order(api: httpx.Client, world: World, **extra: Any) -> dict[str, Any]:
    body = {"title": "Chiller overheating", "priority": "P2", "site_id": world.site,
            "asset_id": world.asset, "required_skills": ["hvac"], **extra}
    return ok(api.post("/api/v1/work-orders", json=body), 201)  # type: ignore[no-any-return]


def move(api: httpx.Client, order_id: str, to: str, **extra: Any) -> httpx.Response:
    return api.post(f"/api/v1/work-orders/{order_id}/transitions", json={"to": to, **extra})
