"""REST resources: create, read, update, list (pagination, filters), errors, audit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.e2e.seed import query
from tests.e2e.test_api_world import assert_error, make_world, ok, uid

pytestmark = pytest.mark.e2e


def test_customers_sites_models_assets_parts_round_trip(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    with stack.api() as api:
        cust = ok(api.get(f"/api/v1/customers/{w.customer}"))
        assert cust["sla_tier"] == "gold" and cust["contacts"][0]["email"] == "ada@example.com"
        cust = ok(api.patch(f"/api/v1/customers/{w.customer}", json={"sla_tier": "platinum"}))
        assert cust["sla_tier"] == "platinum" and cust["name"] == "Acme Cooling"
        site = ok(api.patch(f"/api/v1/sites/{w.site}", json={
            "fence_polygon": [[51.49, -0.13], [51.51, -0.13], [51.51, -0.11]]}))
        assert site["fence_radius_m"] == 120 and len(site["fence_polygon"]) == 3
        model = ok(api.get(f"/api/v1/asset-models/{w.model}"))
        assert model["rules"] == ["temperature > 90 for 60s"]
        asset = ok(api.get(f"/api/v1/assets/{w.asset}"))
        assert asset["installed_on"] == "2024-05-01" and asset["device_id"] == w.device
        patched = ok(api.patch(f"/api/v1/assets/{w.asset}", json={"serial": "SN-2"}))
        assert patched["serial"] == "SN-2"
        part = ok(api.patch(f"/api/v1/parts/{w.part}", json={"low_stock_threshold": 3}))
        assert part["low_stock_threshold"] == 3 and part["unit_cost"] == 12.5
        eng = ok(api.get(f"/api/v1/engineers/{w.engineers[0]}"))
        assert eng["skills"] == ["hvac"] and eng["activity"] in ("offline", "idle")
        eng = ok(api.patch(f"/api/v1/engineers/{w.engineers[0]}", json={"status": "online"}))
        assert eng["activity"] == "idle"
        stock = ok(api.get(f"/api/v1/engineers/{w.engineers[0]}/van-stock"))
        assert stock == [{"part_id": w.part, "name": "Compressor relay", "qty": 3,
                          "low_stock_threshold": 3, "low": False}]


def test_lists_paginate_and_filter(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    with stack.api() as api:
        for i in range(3):
            ok(api.post("/api/v1/sites", json={"id": uid("site"), "customer_id": w.customer,
                                               "name": f"Branch {i}", "lat": 51, "lon": 0}), 201)
        page1 = ok(api.get("/api/v1/sites", params={"customer_id": w.customer, "limit": 2}))
        assert page1["total"] == 4 and len(page1["items"]) == 2 and page1["limit"] == 2
        page2 = ok(api.get("/api/v1/sites", params={"customer_id": w.customer, "limit": 2,
                                                    "offset": 2}))
        ids = {s["id"] for s in page1["items"]} | {s["id"] for s in page2["items"]}
        assert len(ids) == 4
        assets = ok(api.get("/api/v1/assets", params={"site_id": w.site}))
        assert [a["id"] for a in assets["items"]] == [w.asset]
        custs = ok(api.get("/api/v1/customers", params={"q": "acme", "limit": 500}))
        assert w.customer in {c["id"] for c in custs["items"]}
        engs = ok(api.get("/api/v1/engineers", params={"skill": "hvac", "limit": 500}))
        assert w.engineers[0] in {e["id"] for e in engs["items"]}
        assert_error(api.get("/api/v1/sites", params={"limit": 0}), 422)
        assert_error(api.get("/api/v1/sites", params={"limit": 100000}), 422)
        assert_error(api.get("/api/v1/work-orders", params={"from": "yesterday"}), 422)


def test_errors_have_one_shape(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    with stack.api() as api:
        err = assert_error(api.post("/api/v1/customers", json={"id": "x y", "name": ""}), 422)
        assert err["message"] == "invalid request" and err["details"]
        err = assert_error(api.post("/api/v1/customers", json={"id": w.customer, "name": "Dup"}),
                           409)
        assert "already exists" in err["message"]
        err = assert_error(api.post("/api/v1/sites", json={
            "id": uid("site"), "customer_id": "no-such-customer", "name": "S", "lat": 1,
            "lon": 1}), 422)
        assert "unknown reference" in err["message"]
        assert_error(api.post("/api/v1/sites", json={
            "id": uid("site"), "customer_id": w.customer, "name": "S", "lat": 91, "lon": 1}), 422)
        err = assert_error(api.post("/api/v1/asset-models", json={
            "id": uid("m"), "name": "M", "rules": ["temperature is hot"]}), 422)
        assert "cannot parse rule" in str(err["details"])
        assert_error(api.get("/api/v1/customers/nope"), 404)
        assert_error(api.get("/api/v1/assets/nope/history"), 404)
        assert_error(api.patch("/api/v1/parts/nope", json={"name": "x"}), 404)
        assert_error(api.post("/api/v1/parts", json={"id": uid("p"), "name": "P",
                                                      "unexpected": 1}), 422)
        assert_error(api.post("/api/v1/customers", json={"id": uid("c"), "name": "nul\x00"}),
                     422)


def test_asset_history(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    query(stack.database_url,
          "INSERT INTO readings (device_id, ts, metrics, source) VALUES"
          " (%s, now() - interval '1 minute', '{\"temperature\": 80}', 'native'),"
          " (%s, now(), '{\"temperature\": 95}', 'native')", (w.device, w.device))
    with stack.api() as api:
        order = ok(api.post("/api/v1/work-orders", json={
            "title": "Hot", "site_id": w.site, "asset_id": w.asset}), 201)
        ok(api.post(f"/api/v1/work-orders/{order['id']}/transitions",
                    json={"to": "assigned", "engineer_id": w.engineers[0]}))
        ok(api.post(f"/api/v1/work-orders/{order['id']}/parts", json={"part_id": w.part}), 201)
        hist = ok(api.get(f"/api/v1/assets/{w.asset}/history"))
    assert hist["asset"]["id"] == w.asset
    assert [o["id"] for o in hist["orders"]] == [order["id"]]
    assert hist["parts_replaced"][0]["part_id"] == w.part
    assert hist["readings"]["count"] == 2
    (temp,) = hist["readings"]["metrics"]
    assert temp["metric"] == "temperature" and temp["min"] == 80 and temp["max"] == 95


def test_users_tokens_and_audit(stack: Stack) -> None:
    w = make_world(stack, engineers=1)
    with stack.api() as api:
        user = uid("disp")
        ok(api.post("/api/v1/users", json={"id": user, "name": "Dee", "role": "dispatcher"}), 201)
        assert_error(api.post("/api/v1/users", json={"id": uid("u"), "name": "E",
                                                      "role": "engineer"}), 422)
        tok = ok(api.post(f"/api/v1/users/{user}/tokens", json={"expires_in_days": 1}), 201)
        assert tok["role"] == "dispatcher" and len(tok["token"]) > 30
        stored = query(stack.database_url, "SELECT token_hash FROM api_tokens WHERE user_id = %s",
                       (user,))
        assert stored and stored[0][0] != tok["token"]  # hashed, never in the clear
        assert_error(api.post("/api/v1/users/nobody/tokens", json={}), 404)
        users = ok(api.get("/api/v1/users", params={"role": "dispatcher", "limit": 500}))
        assert user in {u["id"] for u in users["items"]}
    with stack.api(tok["token"]) as disp:
        ok(disp.patch(f"/api/v1/customers/{w.customer}", json={"name": "Acme 2"}))
        assert_error(disp.get("/api/v1/audit"), 403)
    with stack.api() as api:
        log = ok(api.get("/api/v1/audit", params={"entity": "customer",
                                                  "entity_id": w.customer}))
        actions = [(e["actor"], e["action"]) for e in log["items"]]
        assert (user, "update") in actions and ("admin", "create") in actions
        assert log["items"][0]["details"]["name"] == "Acme 2"


def test_each_change_leaves_one_audit_row_and_a_refused_one_none(stack: Stack) -> None:
    """Every change is stored with its audit row (one transaction, services.audited):
    the row carries what was sent; a change that finds nothing or is refused leaves none."""
    w = make_world(stack, engineers=1)
    eng = w.engineers[0]

    def rows(api: httpx.Client, entity: str, entity_id: str) -> list[dict[str, Any]]:
        page = ok(api.get("/api/v1/audit",
                          params={"entity": entity, "entity_id": entity_id, "limit": 500}))
        return page["items"]  # type: ignore[no-any-return]

    with stack.api() as api:
        (created,) = rows(api, "asset", w.asset)
        assert created["action"] == "create" and created["actor"] == "admin"
        assert created["details"]["installed_on"] == "2024-05-01"  # a date, as JSON
        assert created["details"]["role"] == "admin"
        (part,) = rows(api, "part", w.part)
        assert part["details"]["unit_cost"] == "12.50"  # a Decimal, as JSON

        ok(api.patch(f"/api/v1/assets/{w.asset}", json={"serial": "SN-9"}))
        assert_error(api.patch(f"/api/v1/assets/{w.asset}", json={"site_id": "no-such-site"}),
                     422)
        assert_error(api.patch("/api/v1/assets/no-such-asset", json={"serial": "x"}), 404)
        updates = [r for r in rows(api, "asset", w.asset) if r["action"] == "update"]
        assert [r["details"].get("serial") for r in updates] == ["SN-9"]
        assert rows(api, "asset", "no-such-asset") == []

        lunch = {"lunch_earliest": "12:00:00", "lunch_latest": "13:00:00", "lunch_minutes": 30}
        ok(api.patch(f"/api/v1/engineers/{eng}", json={"name": "Ann", **lunch}))
        ok(api.patch(f"/api/v1/engineers/{eng}", json={"status": "offline"}))
        newest, older = [r["details"] for r in rows(api, "engineer", eng)][:2]
        assert {k: older[k] for k in lunch} == lunch and older["name"] == "Ann"
        assert newest["status"] == "offline" and not set(lunch) & set(newest)

        hook = ok(api.post("/api/v1/webhooks", json={"url": "http://127.0.0.2:9/hook",
                                                     "event_types": ["alert"]}), 201)
        assert hook["secret"]
        ok(api.delete(f"/api/v1/webhooks/{hook['id']}"), 204)
        assert_error(api.delete(f"/api/v1/webhooks/{hook['id']}"), 404)
        actions = [r["action"] for r in rows(api, "webhook", str(hook["id"]))]
        assert actions == ["delete", "create"]  # newest first; the refused delete: none

        assert_error(api.post("/api/v1/alerts/999999999/acknowledge"), 404)
        assert rows(api, "alert", "999999999") == []
