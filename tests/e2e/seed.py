"""Direct SQL seeding for stream e2e tests (the API has its own tests)."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def seed_site(database_url: str, *, lat: float, lon: float, radius_m: float = 100,
              rules: list[str] | None = None, skills: list[str] | None = None,
              tier: str = "gold") -> dict[str, Any]:
    ids = {k: uid(k) for k in ("cust", "site", "model", "asset", "dev")}
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO customers (id, name, sla_tier) VALUES (%s, %s, %s)",
                     (ids["cust"], "Test customer", tier))
        conn.execute("INSERT INTO sites (id, customer_id, name, lat, lon, fence_radius_m)"
                     " VALUES (%s, %s, %s, %s, %s, %s)",
                     (ids["site"], ids["cust"], "Test site", lat, lon, radius_m))
        conn.execute("INSERT INTO asset_models (id, name, required_skills, rules,"
                     " reading_timeout_s) VALUES (%s, %s, %s, %s, 3600)",
                     (ids["model"], "Chiller", skills or ["hvac"],
                      psycopg.types.json.Jsonb(rules or [])))
        conn.execute("INSERT INTO assets (id, site_id, model_id, serial, device_id)"
                     " VALUES (%s, %s, %s, 'SN-1', %s)",
                     (ids["asset"], ids["site"], ids["model"], ids["dev"]))
    return ids


def seed_engineer(database_url: str, *, lat: float, lon: float,
                  skills: list[str] | None = None) -> str:
    eid = uid("eng")
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("INSERT INTO engineers (id, name, skills, shift_start, shift_end, home_lat,"
                     " home_lon, status) VALUES (%s, %s, %s, '00:00', '23:59:59', %s, %s,"
                     " 'online')", (eid, "Test engineer", skills or ["hvac"], lat, lon))
    return eid


def query(database_url: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []
