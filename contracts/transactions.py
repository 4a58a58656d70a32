"""Commands, queries and replies of the transactions service (queues `transactions.*`).

A purchase is a saga run by the transactions worker; `PurchaseItem` starts it (or, for
a purchase id it already knows, answers that purchase's outcome) and is answered when
the saga ends. Sales are distributed by seller, so a transaction's public id is
`"<seller_id>-<id>"`, like an item's.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from contracts.base import Command, Query, Reply
from contracts.errors import ErrorCode

PAGE_MAX = 100


def format_transaction_id(seller_id: int, transaction_id: int) -> str:
    """The public id of a sale: `"<seller_id>-<id>"` (3, 91 -> "3-91")."""
    return f"{seller_id}-{transaction_id}"


class PurchaseStatus(StrEnum):
    """What a client sees of a saga: still running, or how it ended."""

    PENDING = "pending"
    COMPLETED = "completed"
    FAILED = "failed"


class Sale(BaseModel):
    """A completed purchase as both parties see it. Example: {"id": 91, "purchase_id": "…",
    "seller_id": 3, "item_id": 41, "buyer_id": 7, "amount_cents": 1250,
    "created_at": "2026-11-26T10:00:00Z"}"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    purchase_id: UUID
    seller_id: int
    item_id: int
    buyer_id: int
    amount_cents: int
    created_at: datetime

    @property
    def public_id(self) -> str:
        return format_transaction_id(self.seller_id, self.id)


class PurchaseOutcome(Reply):
    """Where a purchase stands. Example: {"purchase_id": "…", "status": "failed",
    "sale": null, "error_code": "insufficient_funds", "error_message": "…"}"""

    name: ClassVar[str] = "transactions.purchase_outcome"

    purchase_id: UUID
    status: PurchaseStatus
    sale: Sale | None = None
    error_code: ErrorCode | None = None
    error_message: str | None = None


class PurchaseItem(Command):
    """Buy an item, once per `purchase_id` (derived from the Idempotency-Key when the
    client gives one). Answered when the saga ends; a known purchase id is answered its
    outcome (the same id for another item: idempotency_key_reused). Example:
    {"purchase_id": "…", "buyer_id": 7, "seller_id": 3, "item_id": 41}"""

    name: ClassVar[str] = "transactions.purchase_item"
    reply: ClassVar[type[Reply]] = PurchaseOutcome

    purchase_id: UUID
    buyer_id: int
    seller_id: int
    item_id: int


class GetPurchase(Query):
    """A buyer's purchase. Refusal: purchase_not_found (also for another buyer's).
    Example: {"buyer_id": 7, "purchase_id": "…"}"""

    name: ClassVar[str] = "transactions.get_purchase"
    reply: ClassVar[type[Reply]] = PurchaseOutcome

    buyer_id: int
    purchase_id: UUID


class SalePosition(BaseModel):
    """Where a newest-first page of sales ended: the next page starts strictly after it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    created_at: datetime
    id: int


class SalePage(Reply):
    """A page of completed purchases, newest first. Example: {"sales": [{…}],
    "next_after": {"created_at": "…", "id": 91}} (null on the last page)"""

    name: ClassVar[str] = "transactions.sale_page"

    sales: list[Sale]
    next_after: SalePosition | None = None


PageSize = Annotated[int, Field(ge=1, le=PAGE_MAX)]


class ListPurchases(Query):
    """A buyer's completed purchases, newest first (one shard: purchases by buyer).
    Example: {"buyer_id": 7, "limit": 20, "after": null}"""

    name: ClassVar[str] = "transactions.list_purchases"
    reply: ClassVar[type[Reply]] = SalePage

    buyer_id: int
    limit: PageSize = 20
    after: SalePosition | None = None


class ListSales(Query):
    """A seller's sales, newest first (one shard: transactions by seller).
    Example: {"seller_id": 3, "limit": 20, "after": null}"""

    name: ClassVar[str] = "transactions.list_sales"
    reply: ClassVar[type[Reply]] = SalePage

    seller_id: int
    limit: PageSize = 20
    after: SalePosition | None = None
