"""What every API body shares: inputs forbid unknown fields (no mass assignment);
outputs show money as "12.50" and times as RFC 3339 UTC; one error envelope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


Timestamp = Annotated[datetime, PlainSerializer(rfc3339, return_type=str, when_used="json")]
Id = Annotated[str, Field(description="An opaque id: never parse it.")]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)
    money_fields: ClassVar[frozenset[str]] = frozenset()


class Output(BaseModel):
    pass


class ErrorBody(BaseModel):
    code: str = Field(examples=["insufficient_funds"])
    message: str
    details: dict[str, Any] | None = None


class ErrorEnvelope(BaseModel):
    error: ErrorBody
