"""What travels around a message's body: ids, type, version, tracing and deadline.

The broker maps these fields onto AMQP properties (message_id, type, correlation_id,
timestamp) and headers (`x-request-id`, `x-version`, `x-deadline`), so any AMQP
client can read them without parsing the body.
"""

from __future__ import annotations

import time
from datetime import datetime
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import utcnow


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: UUID = Field(default_factory=uuid4)
    type: str
    version: int = 1
    correlation_id: str | None = None
    request_id: str | None = None
    occurred_at: datetime = Field(default_factory=utcnow)
    deadline: float | None = None
    """Unix time after which the caller no longer waits; a worker skips an expired query.
    On the wire: header `x-deadline`, integer Unix milliseconds."""
    reply_to: str | None = None
    """Where the answer goes: direct reply-to for the gateway, a queue for the saga."""

    def expired(self, now: float | None = None) -> bool:
        return self.deadline is not None and (now or time.time()) > self.deadline
