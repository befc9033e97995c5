"""Asset models: required skills, threshold rules, reading timeout, fault model."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from store.listing import Paging, Where, fetch_page
from store.sql import Conn, by_id, fetch_one


async def page(conn: Conn, paging: Paging) -> dict[str, Any]:
    return await fetch_page(conn, "SELECT * FROM asset_models", Where(), "id", paging)


async def get(conn: Conn, model_id: str) -> dict[str, Any] | None:
    return await by_id(conn, "asset_models", model_id)


async def insert(
    conn: Conn,
    *,
    id: str,
    name: str,
    required_skills: list[str],
    rules: list[str],
    reading_timeout_s: int,
    service_minutes: int,
    fault_model: str | None,
) -> dict[str, Any]:
    row = await fetch_one(
        conn,
        "INSERT INTO asset_models (id, name, required_skills, rules, reading_timeout_s,"
        " service_minutes, fault_model) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING *",
        (id, name, required_skills, Jsonb(rules), reading_timeout_s, service_minutes,
         fault_model),
    )
    assert row is not None
    return row


async def update(
    conn: Conn,
    model_id: str,
    *,
    name: str | None = None,
    required_skills: list[str] | None = None,
    rules: list[str] | None = None,
    reading_timeout_s: int | None = None,
    service_minutes: int | None = None,
    set_fault_model: bool = False,
    fault_model: str | None = None,
) -> dict[str, Any] | None:
    """Set the fields given (None: keep); the fault model only when ``set_fault_model``
    ("" or None stops watching). None when there is no such model."""
    return await fetch_one(
        conn,
        "UPDATE asset_models SET name = coalesce(%s, name),"
        " required_skills = coalesce(%s, required_skills), rules = coalesce(%s, rules),"
        " reading_timeout_s = coalesce(%s, reading_timeout_s),"
        " service_minutes = coalesce(%s, service_minutes),"
        " fault_model = CASE WHEN %s THEN nullif(%s, '') ELSE fault_model END"
        " WHERE id = %s RETURNING *",
        (
            name,
            required_skills,
            Jsonb(rules) if rules is not None else None,
            reading_timeout_s,
            service_minutes,
            set_fault_model,
            fault_model,
            model_id,
        ),
    )
