"""Enrolling a phone: a dispatcher makes a one-time link, the phone redeems it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.auth import Staff
from api.deps import ConnDep
from api.schemas import Body
from services.enrolment import MAX_CODE_LENGTH, create_enrolment, redeem

router = APIRouter(prefix="/api/v1", tags=["enrolment"])


class EnrolmentOut(BaseModel):
    code: str = Field(description="one-time code, shown once (only its hash is stored)")
    url: str = Field(description="open on the phone: <public url>/app/#enrol=<code>")
    expires_at: datetime
    qr_svg: str = Field(description="the same url as a QR code (SVG)")


class RedeemIn(Body):
    code: str = Field(min_length=1, max_length=MAX_CODE_LENGTH)


class RedeemOut(BaseModel):
    token: str = Field(description="an engineer token for the app (shown once)")
    engineer_id: str
    expires_at: datetime


@router.post("/engineers/{engineer_id}/enrolment", response_model=EnrolmentOut, status_code=201)
async def enrol(engineer_id: str, request: Request, conn: ConnDep, p: Staff) -> dict[str, Any]:
    """A one-time link (and QR code) that gives a phone an engineer token."""
    settings = request.app.state.settings
    base = settings.public_url or str(request.base_url)
    return await create_enrolment(conn, engineer_id, who=p,
                                  valid_s=settings.enrolment_valid_s, base_url=base)


@router.post("/enrolment/redeem", response_model=RedeemOut)
async def redeem_code(body: RedeemIn, request: Request, conn: ConnDep) -> dict[str, Any]:
    """No token needed: the code is the credential. 410 once used or expired."""
    return await redeem(conn, body.code, token_days=request.app.state.settings.app_token_days)
