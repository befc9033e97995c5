"""Webhook payloads and signatures (pure), shared by the delivery loop and its tests."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

SIGNATURE_HEADER = "X-FieldFlow-Signature"
EVENT_TYPES = ("workorder", "alert")


def event_type(topic: str, data: dict[str, Any]) -> str | None:
    """``workorder.<to_status>`` (``workorder.updated`` for a change of fields) or
    ``alert.<state>``; None for other topics."""
    if topic == "events.workorders":
        if "changed" in (data.get("details") or {}):
            return "workorder.updated"
        return f"workorder.{data.get('to_status', 'changed')}"
    if topic == "events.alerts":
        return f"alert.{data.get('state', 'changed')}"
    return None


def matches(subscribed: list[str], etype: str) -> bool:
    """``*`` matches all, ``workorder`` all work-order events, ``workorder.completed`` one."""
    family = etype.split(".", 1)[0]
    return any(s in ("*", family, etype) for s in subscribed)


def body(delivery_id: str, etype: str, ts: int | None, data: dict[str, Any]) -> bytes:
    return json.dumps(
        {"id": delivery_id, "type": etype, "ts": ts, "data": data}, separators=(",", ":")
    ).encode()


def sign(secret: str, raw: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def verify(secret: str, raw: bytes, header: str) -> bool:
    return hmac.compare_digest(sign(secret, raw), header)


def backoff_s(attempt: int, base_s: float, max_s: float) -> float:
    """Delay before retry number ``attempt`` (1-based): base, 2*base, 4*base, ... capped."""
    return float(min(max_s, base_s * 2 ** (attempt - 1)))
