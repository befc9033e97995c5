"""Asset models: required skills and threshold rules ("temperature > 90 for 60s")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, field_validator

from api.auth import Staff
from api.deps import ConnDep, found
from api.listing import Page, PagingDep
from api.schemas import Body, Ident, Name, Skill
from models.fault_models import FaultModelName
from models.rules import RuleSyntaxError, parse_rule
from services import catalog
from store import asset_models

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
    return await asset_models.page(conn, page)


@router.post("", response_model=AssetModelOut, status_code=201)
async def create_model(body: AssetModelIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    return await catalog.create_asset_model(conn, p, body.model_dump())


@router.get("/{model_id}", response_model=AssetModelOut)
async def get_model(model_id: str, conn: ConnDep, _p: Staff) -> dict[str, Any]:
    return found(await asset_models.get(conn, model_id), "asset model", model_id)


@router.patch("/{model_id}", response_model=AssetModelOut)
async def update_model(
    model_id: str, body: AssetModelPatch, conn: ConnDep, p: Staff
) -> dict[str, Any]:
    row = await catalog.update_asset_model(
        conn, p, model_id, body.model_dump(exclude_none=True),
        set_fault_model="fault_model" in body.model_fields_set,
    )
    return found(row, "asset model", model_id)
