"""Commands, queries and replies of the products service (queues `products.*`).

Item ids carry their seller (`citus.md`, rule 4): the public id is
`"<seller_id>-<item_id>"`, and every message about one item names both numbers, so
the products worker reaches the item's shard in one statement.
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID

from contracts.base import Command, Reply

# --- the item's part of the purchase saga -------------------------------------
# Each is keyed by the purchase id and idempotent: a redelivered command for the same
# purchase answers the same; another purchase of a reserved item is refused.


class ItemReserved(Reply):
    """Example: {"purchase_id": "…", "seller_id": 3, "item_id": 41, "price_cents": 1250,
    "title": "Lamp"}"""

    name: ClassVar[str] = "products.item_reserved"

    purchase_id: UUID
    seller_id: int
    item_id: int
    price_cents: int
    title: str


class ReserveItem(Command):
    """available → reserved for this purchase. Refusals: item_not_found,
    item_not_available, cannot_buy_own_item. Example:
    {"purchase_id": "…", "seller_id": 3, "item_id": 41, "buyer_id": 7}"""

    name: ClassVar[str] = "products.reserve_item"
    reply: ClassVar[type[Reply]] = ItemReserved

    purchase_id: UUID
    seller_id: int
    item_id: int
    buyer_id: int


class ItemReleased(Reply):
    """Example: {"purchase_id": "…", "seller_id": 3, "item_id": 41}"""

    name: ClassVar[str] = "products.item_released"

    purchase_id: UUID
    seller_id: int
    item_id: int


class ReleaseItem(Command):
    """reserved (by this purchase) → available; a no-op answer when it is not reserved
    by this purchase any more. Example: {"purchase_id": "…", "seller_id": 3, "item_id": 41}"""

    name: ClassVar[str] = "products.release_item"
    reply: ClassVar[type[Reply]] = ItemReleased

    purchase_id: UUID
    seller_id: int
    item_id: int


class ItemSold(Reply):
    """Example: {"purchase_id": "…", "seller_id": 3, "item_id": 41}"""

    name: ClassVar[str] = "products.item_sold_reply"

    purchase_id: UUID
    seller_id: int
    item_id: int


class MarkItemSold(Command):
    """reserved (by this purchase) → sold, and `item.sold` into the products outbox.
    Example: {"purchase_id": "…", "seller_id": 3, "item_id": 41, "buyer_id": 7}"""

    name: ClassVar[str] = "products.mark_sold"
    reply: ClassVar[type[Reply]] = ItemSold

    purchase_id: UUID
    seller_id: int
    item_id: int
    buyer_id: int
