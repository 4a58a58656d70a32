"""What the transactions service does with each message. Plain functions of a contract
and their dependencies; the registries are at the bottom: `HANDLERS` for the service's
commands and queries, `REPLY_HANDLERS` for the saga's step replies."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

import asyncpg

from broker.consumer import Handler, current_envelope
from contracts import ErrorCode, ErrorReply, Message, Refusal, Reply
from contracts.accounts import FundsMoved
from contracts.products import ItemReleased, ItemReserved, ItemSold
from contracts.transactions import (
    GetPurchase,
    ListPurchases,
    ListSales,
    PurchaseItem,
    PurchaseOutcome,
    Sale,
    SalePage,
    SalePosition,
)
from workers.common.db import Database
from workers.transactions import repository as repo
from workers.transactions.orchestrator import OUTBOX, SagaOrchestrator
from workers.transactions.outcomes import sale_of_purchase
from workers.transactions.saga import StepRef

__all__ = ["HANDLERS", "OUTBOX", "REPLY_HANDLERS", "Deps", "bootstrap", "bootstrap_replies"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Deps:
    db: Database
    saga: SagaOrchestrator


async def purchase_item(cmd: PurchaseItem, deps: Deps) -> PurchaseOutcome | None:
    """Start the saga; it answers this command when it ends (None: no reply now)."""
    envelope = current_envelope.get()
    waiter = (
        (envelope.reply_to, envelope.correlation_id, envelope.request_id)
        if envelope else (None, None, None)
    )
    return await deps.saga.begin(cmd, waiter)


async def get_purchase(query: GetPurchase, deps: Deps) -> PurchaseOutcome:
    """A buyer's own purchase; another buyer's is as unknown as a missing one."""
    outcome = await deps.saga.outcome(query.buyer_id, query.purchase_id)
    if outcome is None:
        raise Refusal(ErrorCode.PURCHASE_NOT_FOUND, "no such purchase")
    return outcome


async def list_purchases(query: ListPurchases, deps: Deps) -> SalePage:
    after = (query.after.created_at, query.after.id) if query.after else repo.FIRST_PAGE
    async with deps.db.connection() as conn:
        rows = await repo.completed_purchases(conn, query.buyer_id, after, query.limit + 1)
    sales = [sale_of_purchase(row) for row in rows[: query.limit]]
    return _page(sales, rows, query.limit, "completed_at")


async def list_sales(query: ListSales, deps: Deps) -> SalePage:
    after = (query.after.created_at, query.after.id) if query.after else repo.FIRST_PAGE
    async with deps.db.connection() as conn:
        rows = await repo.sales(conn, query.seller_id, after, query.limit + 1)
    sales = [
        Sale(
            id=row["id"], purchase_id=row["purchase_id"], seller_id=row["seller_id"],
            item_id=row["item_id"], buyer_id=row["buyer_id"], amount_cents=row["amount"],
            created_at=row["created_at"],
        )
        for row in rows[: query.limit]
    ]
    return _page(sales, rows, query.limit, "created_at")


def _page(sales: list[Sale], rows: list[asyncpg.Record], limit: int, at: str) -> SalePage:
    """One row past the limit was read: its presence says there is a next page, which
    starts after the last row shown (keyset: the list's time column and its row id)."""
    if len(rows) <= limit:
        return SalePage(sales=sales)
    last = rows[limit - 1]
    return SalePage(sales=sales, next_after=SalePosition(created_at=last[at], id=last["id"]))


async def saga_reply(reply: Reply, deps: Deps) -> None:
    """A step's reply: its correlation id names the purchase and the step it answers."""
    envelope = current_envelope.get()
    ref = StepRef.decode(envelope.correlation_id if envelope else None)
    if ref is None:
        log.warning("saga reply %s without a step reference: dropped", type(reply).__name__)
        return None
    await deps.saga.apply(ref, reply)
    return None


HANDLERS = {
    PurchaseItem: purchase_item,
    GetPurchase: get_purchase,
    ListPurchases: list_purchases,
    ListSales: list_sales,
}

REPLY_HANDLERS = {
    ItemReserved: saga_reply,
    FundsMoved: saga_reply,
    ItemReleased: saga_reply,
    ItemSold: saga_reply,
    ErrorReply: saga_reply,
}


def bootstrap(deps: Deps) -> dict[type[Message], Handler]:
    """Bind every command and query handler to the worker's dependencies."""
    return {message: partial(handler, deps=deps) for message, handler in HANDLERS.items()}


def bootstrap_replies(deps: Deps) -> dict[type[Message], Handler]:
    """Bind the saga's reply handlers (fed the step replies over direct reply-to)."""
    return {message: partial(handler, deps=deps) for message, handler in REPLY_HANDLERS.items()}
