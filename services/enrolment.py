"""Enrolling a phone: a one-time link (and its QR code) exchanged for an engineer token.

The code is shown once and stored as its SHA-256 hash; redeeming it locks its row, so a
link opened twice (or on two phones at once) gives one token and one clear refusal.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import segno
from psycopg import AsyncConnection

from models.workorder import DomainError
from services.workorders import NotFound
from store import audit
from store import enrolment as db
from store.audit import Actor
from store.tokens import hash_token, new_token

CODE_BYTES = 24
MAX_CODE_LENGTH = 128


@dataclass(frozen=True)
class _Redeemer:
    """The phone that redeemed a link acts as the engineer's user."""

    actor: str
    role: str = "engineer"


class EnrolmentGone(DomainError):
    """The link was used already or has expired (HTTP 410)."""

    status_code = 410


def enrolment_url(base_url: str, code: str) -> str:
    """The link the phone opens: the app, with the code in the fragment (never sent to a
    server in a request line, so it does not end up in proxy logs)."""
    return f"{base_url.rstrip('/')}/app/#enrol={code}"


def qr_svg(text: str) -> str:
    """``text`` as a QR code, an inline SVG document."""
    return str(segno.make(text, error="m").svg_inline(scale=4, border=2))


async def create_enrolment(
    conn: AsyncConnection[Any], engineer_id: str, *, who: Actor, valid_s: float, base_url: str
) -> dict[str, Any]:
    """A new one-time link for ``engineer_id`` (earlier unused links stay valid), with its
    audit row in the same transaction."""
    code = secrets.token_urlsafe(CODE_BYTES)
    expires = datetime.now(UTC) + timedelta(seconds=valid_s)
    async with conn.transaction():
        if await db.engineer_name(conn, engineer_id) is None:
            raise NotFound(f"engineer {engineer_id!r} not found")
        await db.insert_code(conn, hash_token(code), engineer_id, created_by=who.actor,
                             expires_at=expires)
        await audit.record(conn, who, "enrolment", "engineer", engineer_id,
                           {"expires_at": expires.isoformat()})
    url = enrolment_url(base_url, code)
    return {"code": code, "url": url, "expires_at": expires, "qr_svg": qr_svg(url)}


async def redeem(conn: AsyncConnection[Any], code: str, *, token_days: int) -> dict[str, Any]:
    """Exchange a code for an engineer token; 404 unknown, 410 used or expired."""
    if not code or len(code) > MAX_CODE_LENGTH:
        raise NotFound("unknown enrolment code")
    code_hash = hash_token(code)
    async with conn.transaction():
        row = await db.lock_code(conn, code_hash)
        if row is None:
            raise NotFound("unknown enrolment code")
        if row["redeemed_at"] is not None:
            raise EnrolmentGone(
                "this enrolment link was already used; ask your dispatcher for a new one"
            )
        if row["expired"]:
            raise EnrolmentGone(
                "this enrolment link has expired; ask your dispatcher for a new one"
            )
        engineer_id = str(row["engineer_id"])
        name = await db.engineer_name(conn, engineer_id) or engineer_id
        user_id = await db.engineer_user(conn, engineer_id, name)
        token = new_token()
        expires = datetime.now(UTC) + timedelta(days=token_days)
        await db.insert_token(
            conn, hash_token(token), user_id=user_id, role="engineer", expires_at=expires
        )
        await db.mark_redeemed(conn, code_hash, hash_token(token))
        await audit.record(conn, _Redeemer(user_id), "enrolment_redeemed", "engineer",
                           engineer_id, {"token_expires_at": expires.isoformat()})
    return {"token": token, "engineer_id": engineer_id, "expires_at": expires}
