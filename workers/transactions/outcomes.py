"""From the `purchases` row and the saga's state to what others see: the saga state,
the outcome a client is answered, the sale, and the final event."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from contracts import ErrorCode, Event
from contracts.events import PurchaseCompleted, PurchaseFailed
from contracts.products import format_item_id
from contracts.transactions import (
    PurchaseOutcome,
    PurchaseStatus,
    Sale,
    format_transaction_id,
)
from workers.transactions.saga import Purchase, PurchaseState


def purchase_of(row: asyncpg.Record) -> Purchase:
    return Purchase(
        purchase_id=row["purchase_id"],
        buyer_id=row["buyer_id"],
        seller_id=row["seller_id"],
        item_id=row["item_id"],
        state=PurchaseState(row["state"]),
        amount_cents=row["amount"],
        error_code=ErrorCode(row["error_code"]) if row["error_code"] else None,
        error_message=row["error_message"],
    )


def sale_of_purchase(row: asyncpg.Record) -> Sale:
    """The sale as the buyer's purchase row records it (no read of the seller's shard)."""
    return Sale(
        id=row["transaction_id"], purchase_id=row["purchase_id"], seller_id=row["seller_id"],
        item_id=row["item_id"], buyer_id=row["buyer_id"], amount_cents=row["amount"],
        created_at=row["completed_at"],
    )


def outcome_of(row: asyncpg.Record) -> PurchaseOutcome:
    state = PurchaseState(row["state"])
    if state is PurchaseState.COMPLETED:
        return PurchaseOutcome(
            purchase_id=row["purchase_id"], status=PurchaseStatus.COMPLETED,
            sale=sale_of_purchase(row),
        )
    if state is PurchaseState.FAILED:
        return PurchaseOutcome(
            purchase_id=row["purchase_id"], status=PurchaseStatus.FAILED,
            error_code=ErrorCode(row["error_code"]), error_message=row["error_message"],
        )
    return PurchaseOutcome(purchase_id=row["purchase_id"], status=PurchaseStatus.PENDING)


def outcome_at_end(purchase: Purchase, sale: tuple[int, datetime] | None) -> PurchaseOutcome:
    """The answer to the waiting PurchaseItem, from the saga's final state."""
    if purchase.state is PurchaseState.COMPLETED and sale is not None:
        assert purchase.amount_cents is not None
        return PurchaseOutcome(
            purchase_id=purchase.purchase_id, status=PurchaseStatus.COMPLETED,
            sale=Sale(
                id=sale[0], purchase_id=purchase.purchase_id, seller_id=purchase.seller_id,
                item_id=purchase.item_id, buyer_id=purchase.buyer_id,
                amount_cents=purchase.amount_cents, created_at=sale[1],
            ),
        )
    return PurchaseOutcome(
        purchase_id=purchase.purchase_id, status=PurchaseStatus.FAILED,
        error_code=purchase.error_code, error_message=purchase.error_message,
    )


def final_event(purchase: Purchase, sale: tuple[int, datetime] | None) -> Event:
    """`purchase.completed` or `purchase.failed`, written with the saga's final state."""
    p = purchase
    item_id = format_item_id(p.seller_id, p.item_id)
    if p.state is PurchaseState.COMPLETED and sale is not None:
        assert p.amount_cents is not None
        return PurchaseCompleted(
            purchase_id=p.purchase_id, transaction_id=format_transaction_id(p.seller_id, sale[0]),
            item_id=item_id, seller_id=p.seller_id, buyer_id=p.buyer_id,
            amount_cents=p.amount_cents, occurred_at=sale[1],  # the sale's own time
        )
    return PurchaseFailed(
        purchase_id=p.purchase_id, item_id=item_id, seller_id=p.seller_id, buyer_id=p.buyer_id,
        amount_cents=p.amount_cents, reason=(p.error_code or ErrorCode.INTERNAL_ERROR).value,
    )
