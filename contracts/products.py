"""Commands, queries and replies of the products service (queues `products.*`).

Item ids carry their seller (`citus.md`, rule 4): the public id is
`"<seller_id>-<item_id>"`, and every message about one item names both numbers, so
the products worker reaches the item's shard in one statement.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from contracts.base import Command, Query, Reply, Text
from contracts.money import MAX_AMOUNT_CENTS

MAX_BIGINT = 2**63 - 1
_ITEM_ID = re.compile(r"([1-9][0-9]{0,18})-([1-9][0-9]{0,18})")
_USER_ID = re.compile(r"[1-9][0-9]{0,18}")

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
SEARCH_QUERY_MAX = 200
PAGE_MAX = 100


def format_item_id(seller_id: int, item_id: int) -> str:
    """The public id of an item: `"<seller_id>-<item_id>"` (3, 41 -> "3-41")."""
    return f"{seller_id}-{item_id}"


def parse_item_id(public_id: str) -> tuple[int, int] | None:
    """`(seller_id, item_id)` of a public item id, or None for anything malformed.

    Only the canonical form made by `format_item_id` parses: positive decimals without
    leading zeros or signs, each within bigint ("3-41" -> (3, 41); "03-41", "3-", "x" -> None).
    """
    match = _ITEM_ID.fullmatch(public_id)
    if match is None:
        return None
    seller_id, item_id = int(match.group(1)), int(match.group(2))
    if seller_id > MAX_BIGINT or item_id > MAX_BIGINT:
        return None
    return seller_id, item_id


def parse_user_id(public_id: str) -> int | None:
    """A user id as clients see it ("7"), or None when it cannot name a user."""
    if not _USER_ID.fullmatch(public_id):
        return None
    user_id = int(public_id)
    return user_id if user_id <= MAX_BIGINT else None


class ItemStatus(StrEnum):
    """available -> reserved (by one purchase) -> sold; reserved -> available (released)."""

    AVAILABLE = "available"
    RESERVED = "reserved"
    SOLD = "sold"


def _not_blank(value: str) -> str:
    """A title of spaces names nothing."""
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# Text's checks (no NUL, no lone surrogate) after the length, so that a too long value
# is told "at most 200 characters" and the JSON schema shows the limits.
Title = Annotated[
    str, StringConstraints(min_length=1, max_length=TITLE_MAX), *Text.__metadata__,
    AfterValidator(_not_blank),
]
Description = Annotated[str, StringConstraints(max_length=DESCRIPTION_MAX), *Text.__metadata__]
SearchText = Annotated[
    str, StringConstraints(min_length=1, max_length=SEARCH_QUERY_MAX), *Text.__metadata__
]
PriceCents = Annotated[int, Field(gt=0, le=MAX_AMOUNT_CENTS)]
PageSize = Annotated[int, Field(ge=1, le=PAGE_MAX)]
RowId = Annotated[int, Field(ge=0, le=MAX_BIGINT)]


class Item(Reply):
    """One item. Example: {"seller_id": 3, "item_id": 41, "title": "Lamp",
    "description": "Brass, 1950s", "price_cents": 1250, "status": "available",
    "created_at": "2026-11-26T10:00:00Z", "updated_at": "2026-11-26T10:00:00Z"}"""

    name: ClassVar[str] = "products.item"

    seller_id: int
    item_id: int
    title: str
    description: str
    price_cents: int
    status: ItemStatus
    created_at: datetime
    updated_at: datetime

    @property
    def public_id(self) -> str:
        return format_item_id(self.seller_id, self.item_id)


# --- listing, editing, withdrawing (commands: persistent, confirmed) -----------------


class ListItemForSale(Command):
    """Put an item up for sale, once per `listing_id` (a redelivery or a retried request
    with the same Idempotency-Key answers the first item). Example: {"listing_id": "…",
    "seller_id": 3, "title": "Lamp", "description": "Brass, 1950s", "price_cents": 1250}"""

    name: ClassVar[str] = "products.list_item"
    reply: ClassVar[type[Reply]] = Item

    listing_id: UUID
    seller_id: int
    title: Title
    description: Description = ""
    price_cents: PriceCents


class UpdateItem(Command):
    """Change an available item; only its seller may. Fields left None keep their value.
    Refusals: item_not_found, not_owner, item_not_editable. Example:
    {"seller_id": 3, "item_id": 41, "editor_id": 3, "price_cents": 990}"""

    name: ClassVar[str] = "products.update_item"
    reply: ClassVar[type[Reply]] = Item

    seller_id: int
    item_id: int
    editor_id: int
    title: Title | None = None
    description: Description | None = None
    price_cents: PriceCents | None = None


class DeleteItem(Command):
    """Withdraw an available item for good (a hard delete); answers its last state.
    Refusals: item_not_found, not_owner, item_not_editable. Example:
    {"seller_id": 3, "item_id": 41, "requester_id": 3}"""

    name: ClassVar[str] = "products.delete_item"
    reply: ClassVar[type[Reply]] = Item

    seller_id: int
    item_id: int
    requester_id: int


# --- reads (queries: transient, short expiry) -----------------------------------------


class FeedPosition(BaseModel):
    """Where a newest-first page ended: the next page starts strictly after it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    created_at: AwareDatetime
    item_id: RowId


class SearchPosition(BaseModel):
    """Where a search page ended, in (rank, created_at, id) descending order."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    created_at: AwareDatetime
    item_id: RowId


class ItemPage(Reply):
    """A page of items, newest first. Example: {"items": [{…}], "next_after":
    {"created_at": "2026-11-26T10:00:00Z", "item_id": 41}} (null on the last page)"""

    name: ClassVar[str] = "products.item_page"

    items: list[Item]
    next_after: FeedPosition | None = None


class SearchPage(Reply):
    """A page of search hits, best first. Example: {"items": [{…}], "next_after":
    {"rank": 0.61, "created_at": "…", "item_id": 41}}"""

    name: ClassVar[str] = "products.search_page"

    items: list[Item]
    next_after: SearchPosition | None = None


class GetItem(Query):
    """Read one item (any status). Refusal: item_not_found.
    Example: {"seller_id": 3, "item_id": 41}"""

    name: ClassVar[str] = "products.get_item"
    reply: ClassVar[type[Reply]] = Item

    seller_id: int
    item_id: int


class BrowseItems(Query):
    """The newest items of every seller: `available` (the default), `sold`, or `all`
    (available, reserved and sold). Example: {"status": "available", "limit": 20,
    "after": null}"""

    name: ClassVar[str] = "products.browse_items"
    reply: ClassVar[type[Reply]] = ItemPage

    status: Literal["available", "sold", "all"] = "available"
    limit: PageSize = 20
    after: FeedPosition | None = None


class GetSellerItems(Query):
    """One seller's items of every status, newest first.
    Example: {"seller_id": 3, "limit": 20, "after": null}"""

    name: ClassVar[str] = "products.seller_items"
    reply: ClassVar[type[Reply]] = ItemPage

    seller_id: int
    limit: PageSize = 20
    after: FeedPosition | None = None


class SearchItems(Query):
    """Full-text search of available items (English stemming, title before description).
    Example: {"query": "brass lamp", "limit": 20, "after": null}"""

    name: ClassVar[str] = "products.search_items"
    reply: ClassVar[type[Reply]] = SearchPage

    query: SearchText
    limit: PageSize = 20
    after: SearchPosition | None = None

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
