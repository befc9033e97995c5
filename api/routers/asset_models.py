"""Asset models: required skills and threshold rules ("temperature > 90 for 60s")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field, field_validator

from api.auth import Staff
from api.deps import ConnDep, audit, fetch_by_id, fetch_one, found
from api.listing import Page, PagingDep, Where, fetch_page
from api.schemas import Body, Ident, Name, Skill
from models.fault_models import FaultModelName
from models.rules import RuleSyntaxError, parse_rule

router = APIRouter(prefix="/api/v1/asset-models", tags=["assets"])

def check_rules(rules: list[str] | None) -> list[str] | None:
    """Rules are parsed at the door by the grammar the stream workers use (models.rules)."""
    for rule in rules or ():
        try:
            parse_rule(rule)
        except RuleSyntaxError as exc:
            raise ValueError(f"{exc}; expected e.g. 'temperature > 90 for 60s'") from None
    return rules


class AssetModelIn(Body):
    id: Ident
    name: Name
    required_skills: list[Skill] = Field(default_factory=list, max_length=20)
    rules: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list, max_length=50)
    reading_timeout_s: int = Field(default=600, ge=1, le=7 * 86400)
    service_minutes: int = Field(default=45, ge=1, le=24 * 60)
    fault_model: FaultModelName | None = Field(
        default=None, description="watch assets of this model with a trained fault model"
    )

    _rules = field_validator("rules")(check_rules)


class AssetModelPatch(Body):
    name: Name | None = None
    required_skills: list[Skill] | None = Field(default=None, max_length=20)
    rules: list[Annotated[str, Field(max_length=300)]] | None = Field(default=None, max_length=50)
    reading_timeout_s: int | None = Field(default=None, ge=1, le=7 * 86400)
    service_minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    fault_model: FaultModelName | Literal[""] | None = Field(
        default=None, description='a fault model name, or "" to stop watching'
    )

    _rules = field_validator("rules")(check_rules)


class AssetModelOut(BaseModel):
    id: str
    name: str
    required_skills: list[str]
    rules: list[str]
    reading_timeout_s: int
    service_minutes: int
    fault_model: str | None = None


@router.get("", response_model=Page[AssetModelOut])
async def list_models(conn: ConnDep, _p: Staff, page: PagingDep) -> dict[str, Any]:
    return await fetch_page(conn, "SELECT * FROM asset_models", Where(), "id", page)


@router.post("", response_model=AssetModelOut, status_code=201)
async def create_model(body: AssetModelIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "INSERT INTO asset_models (id, name, required_skills, rules, reading_timeout_s,"
            " service_minutes, fault_model) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING *",
            (
                body.id,
                body.name,
                body.required_skills,
                Jsonb(body.rules),
                body.reading_timeout_s,
                body.service_minutes,
                body.fault_model,
            ),
        )
        await audit(conn, p, "create", "asset_model", body.id, body.model_dump())
    assert row is not None
    return row


@router.get("/{model_id}", response_model=AssetModelOut)
async def get_model(model_id: str, conn: ConnDep, _p: Staff) -> dict[str, Any]:
    return await fetch_by_id(conn, "asset_models", model_id, "asset model")


@router.patch("/{model_id}", response_model=AssetModelOut)
async def update_model(
    model_id: str, body: AssetModelPatch, conn: ConnDep, p: Staff
) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "UPDATE asset_models SET name = coalesce(%s, name),"
            " required_skills = coalesce(%s, required_skills), rules = coalesce(%s, rules),"
            " reading_timeout_s = coalesce(%s, reading_timeout_s),"
            " service_minutes = coalesce(%s, service_minutes),"
            " fault_model = CASE WHEN %s THEN nullif(%s, '') ELSE fault_model END"
            " WHERE id = %s RETURNING *",
            (
                body.name,
                body.required_skills,
                Jsonb(body.rules) if body.rules is not None else None,
                body.reading_timeout_s,
                body.service_minutes,
                "fault_model" in body.model_fields_set,
                body.fault_model,
                model_id,
            ),
        )
        row = found(row, "asset model", model_id)
        await audit(conn, p, "update", "asset_model", model_id, changes)
    return row
