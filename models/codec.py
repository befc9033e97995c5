"""The one codec between Kafka bytes and the pydantic models (DESIGN.md §7).

Topics carry bytes (faust ``value_serializer="raw"``); this module turns them into
models and back, so there is one set of schemas.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class DecodeError(ValueError):
    """A record that does not decode into its topic's model."""


def encode(message: BaseModel) -> bytes:
    return message.model_dump_json(exclude_none=True).encode()


def decode(model: type[M], data: bytes | str | None) -> M:
    if data is None:
        raise DecodeError(f"empty record for {model.__name__}")
    try:
        return model.model_validate_json(data)
    except ValidationError as exc:
        raise DecodeError(f"{model.__name__}: {describe(exc)}") from None


def describe(exc: ValidationError, limit: int = 3) -> str:
    """A short, human reason from a pydantic error (used in dead letters and HTTP 422s)."""
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err.get("loc", ())) or "payload"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"(+{more} more)")
    return "; ".join(parts)
