"""The item's steps of the purchase saga: available -> reserved -> sold, reserved -> available.

Each is keyed by the purchase id and idempotent: the item remembers the purchase that
reserved it (`reserved_by`), so a redelivered step answers what it answered the first
time, and a step of another purchase is refused. Each is one conditional statement on
the seller's shard; the item is read back only to explain why nothing changed.
"""

from __future__ import annotations

import asyncpg

from broker.outbox import add_event
from contracts import ErrorCode, Refusal, events
from contracts.products import (
    ItemReleased,
    ItemReserved,
    ItemSold,
    ItemStatus,
    MarkItemSold,
    ReleaseItem,
    ReserveItem,
    format_item_id,
)
from workers.products import repository as repo
from workers.products.deps import OUTBOX, Deps, request_id


async def reserve_item(cmd: ReserveItem, deps: Deps) -> ItemReserved:
    """Refusals: item_not_found, cannot_buy_own_item, item_not_available."""
    async with deps.db.connection() as conn:
        row = await repo.reserve(conn, cmd.seller_id, cmd.item_id, cmd.purchase_id, cmd.buyer_id)
        if row is None:
            row = _held_by_this_purchase(await repo.get_item(conn, cmd.seller_id, cmd.item_id), cmd)
    return ItemReserved(
        purchase_id=cmd.purchase_id,
        seller_id=cmd.seller_id,
        item_id=cmd.item_id,
        price_cents=row["price"],
        title=row["title"],
    )


def _held_by_this_purchase(row: asyncpg.Record | None, cmd: ReserveItem) -> asyncpg.Record:
    """Nothing was reserved now: fine when this purchase holds it already, else refuse."""
    if row is None:
        raise Refusal(ErrorCode.ITEM_NOT_FOUND, "no such item")
    if row["reserved_by"] == cmd.purchase_id:
        return row  # a redelivered reserve: answer the same
    if row["seller_id"] == cmd.buyer_id:
        raise Refusal(ErrorCode.CANNOT_BUY_OWN_ITEM, "you cannot buy your own item")
    raise Refusal(ErrorCode.ITEM_NOT_AVAILABLE, f"the item is {row['status']}")


async def release_item(cmd: ReleaseItem, deps: Deps) -> ItemReleased:
    """Compensation never fails: when this purchase does not hold the item (released
    already, never reserved, sold, gone), answer the same without changing anything."""
    async with deps.db.connection() as conn:
        await repo.release(conn, cmd.seller_id, cmd.item_id, cmd.purchase_id)
    return ItemReleased(purchase_id=cmd.purchase_id, seller_id=cmd.seller_id, item_id=cmd.item_id)


async def mark_item_sold(cmd: MarkItemSold, deps: Deps) -> ItemSold:
    """reserved by this purchase -> sold, with `item.sold` in the same transaction.
    Refusals: item_not_found, item_not_available (not reserved by this purchase)."""
    async with deps.db.transaction() as conn:
        row = await repo.mark_sold(conn, cmd.seller_id, cmd.item_id, cmd.purchase_id, cmd.buyer_id)
        if row is not None:
            await add_event(conn, OUTBOX, cmd.seller_id, events.ItemSold(
                item_id=format_item_id(cmd.seller_id, cmd.item_id), seller_id=cmd.seller_id,
                buyer_id=cmd.buyer_id, purchase_id=cmd.purchase_id, price_cents=row["price"],
            ), request_id())
        else:
            current = await repo.get_item(conn, cmd.seller_id, cmd.item_id)
            if current is None:
                raise Refusal(ErrorCode.ITEM_NOT_FOUND, "no such item")
            if current["status"] != ItemStatus.SOLD or current["reserved_by"] != cmd.purchase_id:
                raise Refusal(
                    ErrorCode.ITEM_NOT_AVAILABLE,
                    f"the item is {current['status']} and not reserved by this purchase",
                )
            # a redelivered mark-sold: sold by this purchase already, answer the same
    if row is not None:
        deps.outbox.wake()
    return ItemSold(purchase_id=cmd.purchase_id, seller_id=cmd.seller_id, item_id=cmd.item_id)
