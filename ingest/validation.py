"""Shared input checks and size limits for every adapter.

The pydantic models check ranges and finiteness; these helpers add what the models
are lenient about at the edge (pydantic's lax mode turns ``true`` into ``1.0``), and the
limits that protect the bridge's memory from hostile or broken publishers.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ingest.routing import Rejected, RejectKind

MAX_PAYLOAD_BYTES = 64 * 1024  # JSON payloads (native, OwnTracks)
MAX_SPARKPLUG_BYTES = 256 * 1024  # protobuf payloads (births can be large)
MAX_TOPIC_LENGTH = 256
MAX_SPARKPLUG_METRICS = 1024  # metrics in one Sparkplug payload
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")  # models.messages.ID_PATTERN


def check_size(payload: bytes, limit: int) -> None:
    if len(payload) > limit:
        raise Rejected(f"payload of {len(payload)} bytes exceeds {limit}", RejectKind.TOO_LARGE)


def check_id(value: str, what: str) -> str:
    if not ID_RE.fullmatch(value):
        raise Rejected(f"bad {what} {value[:80]!r} in topic", RejectKind.NO_ROUTE)
    return value


def json_object(payload: bytes, limit: int = MAX_PAYLOAD_BYTES) -> dict[str, Any]:
    """Parse a JSON object payload, or raise ``Rejected`` with a clear reason."""
    check_size(payload, limit)
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise Rejected(f"not JSON: {exc}"[:200], RejectKind.MALFORMED) from None
    if not isinstance(data, dict):
        raise Rejected("payload must be a JSON object", RejectKind.MALFORMED)
    return data


def number(data: dict[str, Any], key: str, *, allow_str: bool = False) -> float | int | None:
    """``data[key]`` as a finite number, None when absent/null; Rejected otherwise.

    Booleans are refused (JSON ``true`` is not a coordinate). ``allow_str`` accepts
    numeric strings, which OwnTracks' own documentation examples contain.
    """
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, str) and allow_str:
        text = value
        try:
            value = float(text) if any(c in text for c in ".eE") else int(text)
        except ValueError:
            raise Rejected(f"{key}: {text[:40]!r} is not a number") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Rejected(f"{key}: must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise Rejected(f"{key}: must be a finite number")
    return value


def require(data: dict[str, Any], *keys: str) -> None:
    for key in keys:
        if data.get(key) is None:
            raise Rejected(f"missing field {key!r}")
