"""Request and response shapes shared by several routers."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from models.messages import ID_PATTERN

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
