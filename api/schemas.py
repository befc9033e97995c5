"""Request and response shapes shared by several routers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from models.messages import ID_PATTERN
from models.timeutil import now_ms, parse_ts_ms

# Identifiers appear in URLs, topics and keys (same pattern as the message schemas).
Ident = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
# Free text: bounded, and no NUL bytes (PostgreSQL text cannot hold them).
Text = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
Skill = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00]*$")]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]


class Body(BaseModel):
    """Request bodies reject unknown fields, so typos are answered, not ignored."""

    model_config = ConfigDict(extra="forbid")


class Message(BaseModel):
    message: str


# How far a client's own event time (a move or part use made offline) may lie from now.
MAX_TS_PAST_MS = 7 * 86_400_000
MAX_TS_FUTURE_MS = 86_400_000


def client_event_time(value: int | str | None) -> int | None:
    """A phone's event time (epoch ms or ISO-8601) as epoch ms, within 7 days back and one
    day ahead of now; None stays None (the server's time is used)."""
    if value is None:
        return None
    ts = parse_ts_ms(value)
    now = now_ms()
    if not now - MAX_TS_PAST_MS <= ts <= now + MAX_TS_FUTURE_MS:
        raise ValueError("ts must be within 7 days before and 1 day after now")
    return ts
