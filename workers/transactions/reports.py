"""The reports read model: `purchase.completed` events in, a user's figures per day out.

Events arrive on the transactions worker's own queue `transactions.reports` (or from a
replay of the stream, `ops/replay.py`); each is applied as two single-shard transactions,
the buyer's share and the seller's, each deduplicated by its inbox row. The report query
reads one user's days: one shard.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC
from functools import partial

from broker.consumer import Handler
from broker.topology import REPORTS, TRANSACTIONS
from contracts import Message, Reply
from contracts.events import PurchaseCompleted
from contracts.reports import GetReport, Report, ReportDay
from workers.common.db import Database
from workers.common.runtime import Runtime
from workers.transactions import reports_repository as repo

UnboundHandler = Callable[..., Awaitable[Reply | None]]
"""A handler before its dependencies are bound: `f(message, deps)`."""


@dataclass(frozen=True)
class Deps:
    db: Database
    read_db: Database
    """Reports are eventually consistent anyway: a read replica may serve them."""


def entries_of(event: PurchaseCompleted) -> tuple[repo.Entry, repo.Entry]:
    """The buyer's and the seller's share of a completed purchase, on its UTC day."""
    moment = event.occurred_at
    day = (moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)).date()
    return (
        (event.buyer_id, event.event_id, repo.BUYER, day, event.amount_cents),
        (event.seller_id, event.event_id, repo.SELLER, day, event.amount_cents),
    )


async def apply_purchase_completed(event: PurchaseCompleted, deps: Deps) -> None:
    """Count the purchase for the buyer and the sale for the seller, each once per event:
    a redelivery (or a retry after a crash between the two) only adds what is missing."""
    async with deps.db.connection() as conn:
        for entry in entries_of(event):
            await repo.apply_entry(conn, entry)  # one statement: its own transaction


async def get_report(query: GetReport, deps: Deps) -> Report:
    async with deps.read_db.connection() as conn:
        rows = await repo.report_days(conn, query.user_id, query.date_from, query.date_to)
    days = tuple(
        ReportDay(
            day=row["day"],
            purchases_count=row["purchases_count"],
            purchases_total_cents=row["purchases_total"],
            sales_count=row["sales_count"],
            sales_total_cents=row["sales_total"],
        )
        for row in rows
    )
    return Report(
        user_id=query.user_id,
        purchases_count=sum(d.purchases_count for d in days),
        purchases_total_cents=sum(d.purchases_total_cents for d in days),
        sales_count=sum(d.sales_count for d in days),
        sales_total_cents=sum(d.sales_total_cents for d in days),
        days=days,
    )


EVENT_HANDLERS: dict[type[Message], UnboundHandler] = {
    PurchaseCompleted: apply_purchase_completed,
}
QUERY_HANDLERS: dict[type[Message], UnboundHandler] = {GetReport: get_report}


def bind(
    handlers: Mapping[type[Message], UnboundHandler], deps: Deps
) -> dict[type[Message], Handler]:
    """Bind handlers to the worker's dependencies."""
    return {message: partial(handler, deps=deps) for message, handler in handlers.items()}


def bootstrap(runtime: Runtime) -> None:
    """Consume the reports queue, and answer the report query on the service's query queue
    (which the runtime shares with the saga's queries)."""
    deps = Deps(db=runtime.db, read_db=runtime.read_db)
    runtime.consume(REPORTS.queue, bind(EVENT_HANDLERS, deps))
    runtime.consume(TRANSACTIONS.queries, bind(QUERY_HANDLERS, deps))
