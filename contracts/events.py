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


# --- items (published by the products service) -------------------------------------
# `item_id` is the public id ("<seller_id>-<item_id>"); `seller_id` is repeated so a
# subscriber can route or partition without parsing it.


class ItemListed(Event):
    """A seller put an item up for sale. Example: {"type": "item.listed", "version": 1,
    "event_id": "…", "occurred_at": "2026-11-26T10:00:00Z", "item_id": "3-41",
    "seller_id": 3, "title": "Lamp", "description": "Brass, 1950s", "price_cents": 1250}"""

    name: ClassVar[str] = "item.listed"

    item_id: str
    seller_id: int
    title: str
    description: str
    price_cents: int


class ItemUpdated(Event):
    """The seller edited an available item; the body is its whole new state. Example:
    {"type": "item.updated", "version": 1, "event_id": "…", "occurred_at": "…",
    "item_id": "3-41", "seller_id": 3, "title": "Lamp", "description": "Brass, 1950s",
    "price_cents": 990}"""

    name: ClassVar[str] = "item.updated"

    item_id: str
    seller_id: int
    title: str
    description: str
    price_cents: int


class ItemDeleted(Event):
    """The seller withdrew an available item; it is gone for good. Example:
    {"type": "item.deleted", "version": 1, "event_id": "…", "occurred_at": "…",
    "item_id": "3-41", "seller_id": 3}"""

    name: ClassVar[str] = "item.deleted"

    item_id: str
    seller_id: int


class ItemSold(Event):
    """A purchase saga marked the item sold (after the buyer paid and the seller was
    paid). Example: {"type": "item.sold", "version": 1, "event_id": "…", "occurred_at": "…",
    "item_id": "3-41", "seller_id": 3, "buyer_id": 7, "purchase_id": "…",
    "price_cents": 1250}"""

    name: ClassVar[str] = "item.sold"

    item_id: str
    seller_id: int
    buyer_id: int
    purchase_id: UUID
    price_cents: int


# --- purchases (published by the transactions service) ------------------------------


class PurchaseCompleted(Event):
    """A purchase saga ended COMPLETED: the buyer paid, the seller was paid, the item is
    sold. Example: {"type": "purchase.completed", "version": 1, "event_id": "…",
    "occurred_at": "2026-11-26T10:00:00Z", "purchase_id": "…", "transaction_id": "3-91",
    "item_id": "3-41", "seller_id": 3, "buyer_id": 7, "amount_cents": 1250}"""

    name: ClassVar[str] = "purchase.completed"

    purchase_id: UUID
    transaction_id: str
    item_id: str
    seller_id: int
    buyer_id: int
    amount_cents: int


class PurchaseFailed(Event):
    """A purchase saga ended FAILED, compensated: no money moved, the item is not sold.
    `reason` is the error code of the step that failed (`insufficient_funds`, …).
    Example: {"type": "purchase.failed", "version": 1, "event_id": "…", "occurred_at": "…",
    "purchase_id": "…", "item_id": "3-41", "seller_id": 3, "buyer_id": 7,
    "amount_cents": 1250, "reason": "insufficient_funds"}"""

    name: ClassVar[str] = "purchase.failed"

    purchase_id: UUID
    item_id: str
    seller_id: int
    buyer_id: int
    amount_cents: int | None = None
    reason: str
