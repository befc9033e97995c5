"""Users, their API tokens and webhook subscriptions (admin use cases)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from models.workorder import DomainError
from services.audited import audited
from store import tokens, users, webhooks
from store.audit import Actor
from store.sql import Conn
from store.tokens import hash_token, new_token

Row = dict[str, Any]


class MissingLink(DomainError):
    """A user whose role needs a link (engineer, customer) was given none."""

    status_code = 422


async def create_user(conn: Conn, who: Actor, fields: Row) -> Row:
    """An engineer user needs ``engineer_id``, a customer user ``customer_id``."""
    if fields["role"] == "engineer" and not fields.get("engineer_id"):
        raise MissingLink("an engineer user needs engineer_id")
    if fields["role"] == "customer" and not fields.get("customer_id"):
        raise MissingLink("a customer user needs customer_id")
    return await audited(conn, who, "create", "user", fields["id"], fields,
                         lambda: users.insert(conn, **fields))


class UserDisabled(DomainError):
    """No new tokens for a disabled user."""

    status_code = 409


async def create_token(
    conn: Conn,
    who: Actor,
    user: Row,
    *,
    expires_in_days: int | None = None,
    name: str | None = None,
) -> Row:
    """A new token for ``user`` (its row), valid ``expires_in_days`` or for ever; the
    token itself is in the answer only, the store keeps its hash."""
    if user.get("disabled_at") is not None:
        raise UserDisabled(f"user {user['id']!r} is disabled; enable it first")
    expires = datetime.now(UTC) + timedelta(days=expires_in_days) if expires_in_days else None
    token = new_token()
    token_id = await audited(
        conn, who, "create_token", "user", user["id"],
        {"expires_at": str(expires), "name": name},
        lambda: users.insert_token(conn, token_hash=hash_token(token), user_id=user["id"],
                                   role=user["role"], expires_at=expires, name=name))
    return {"id": token_id, "token": token, "user_id": user["id"], "role": user["role"],
            "expires_at": expires}


async def revoke_token(conn: Conn, who: Actor, token_id: int) -> Row | None:
    """Revoke a user token by its id (its next request gets 401); None when unknown."""
    def owner(row: Row | None) -> str:
        return str(row["user_id"]) if row else ""

    return await audited(conn, who, "revoke_token", "user", owner,
                         {"token_id": token_id}, lambda: tokens.revoke_token(conn, token_id))


async def set_disabled(conn: Conn, who: Actor, user_id: str, *, disabled: bool) -> Row | None:
    """Disable a user (all their tokens stop at once) or enable them again."""
    return await audited(conn, who, "disable" if disabled else "enable", "user", user_id, None,
                         lambda: tokens.set_user_disabled(conn, user_id, disabled=disabled))


async def create_webhook(
    conn: Conn, who: Actor, *, url: str, event_types: list[str], secret: str | None = None
) -> Row:
    """Subscribe ``url``; without a ``secret`` one is generated (shown in this answer)."""
    key = secret or secrets.token_urlsafe(32)
    return await audited(
        conn, who, "create", "webhook", lambda row: str(row["id"]),
        {"url": url, "event_types": event_types},
        lambda: webhooks.insert(conn, url=url, event_types=event_types, secret=key),
    )


async def delete_webhook(conn: Conn, who: Actor, webhook_id: int) -> bool:
    """Deactivate the webhook (its delivery log is kept); False when there is none."""
    return await audited(conn, who, "delete", "webhook", str(webhook_id), None,
                         lambda: webhooks.deactivate(conn, webhook_id))
