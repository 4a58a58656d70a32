"""What the products handlers depend on, handed to them by the worker's bootstrap."""

from __future__ import annotations

from dataclasses import dataclass

from broker.consumer import current_envelope
from broker.outbox import OutboxRelay
from workers.common.db import Database

OUTBOX = "products_outbox"


@dataclass(frozen=True)
class Deps:
    db: Database
    outbox: OutboxRelay
    read_db: Database | None = None
    """The read-only pool (Citus secondaries) for the feed and search; None: the primary."""

    @property
    def reader(self) -> Database:
        return self.read_db or self.db


def request_id() -> str | None:
    """The request id of the message being handled, carried on into the events it causes."""
    envelope = current_envelope.get()
    return envelope.request_id if envelope else None
