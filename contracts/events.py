"""Events: the public, versioned contract with subscribers of `itemx.events`.

Each event's routing key is its name (`funds.deposited`); its body is the JSON of
the model plus `type` and `version`. A change that breaks a subscriber gets a new
version, published alongside the old one until subscribers have moved.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from contracts.base import Event

# --- accounts ---------------------------------------------------------------


class UserRegistered(Event):
    """Example: {"type": "user.registered", "version": 1, "event_id": "…",
    "occurred_at": "…", "user_id": 7, "username": "ada"}"""

    name: ClassVar[str] = "user.registered"

    user_id: int
    username: str


class FundsDeposited(Event):
    """Example: {"type": "funds.deposited", "version": 1, "event_id": "…", "occurred_at": "…",
    "user_id": 7, "deposit_id": "…", "amount_cents": 1000, "balance_cents": 2250}"""

    name: ClassVar[str] = "funds.deposited"

    user_id: int
    deposit_id: UUID
    amount_cents: int
    balance_cents: int
