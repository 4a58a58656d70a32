"""What the products service does with each message. Plain functions of a contract and
their dependencies; the registry is at the bottom. The purchase saga's steps on an item
(reserve, release, mark sold) are in `reservations.py`."""

from __future__ import annotations

from functools import partial
from typing import NoReturn

import asyncpg

from broker.consumer import Handler
from broker.outbox import add_event
from contracts import ErrorCode, Message, Refusal, events
from contracts.products import (
    BrowseItems,
    DeleteItem,
    FeedPosition,
    GetItem,
    GetSellerItems,
    Item,
    ItemPage,
    ListItemForSale,
    MarkItemSold,
    ReleaseItem,
    ReserveItem,
    SearchItems,
    SearchPage,
    SearchPosition,
    UpdateItem,
    format_item_id,
)
from workers.products import repository as repo
from workers.products.deps import OUTBOX, Deps, request_id
from workers.products.reservations import mark_item_sold, release_item, reserve_item


def item_of(row: asyncpg.Record) -> Item:
    """The contract of an `items` row (the worker's names: price in cents, bare id)."""
    return Item(
        seller_id=row["seller_id"],
        item_id=row["id"],
        title=row["title"],
        description=row["description"],
        price_cents=row["price"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def list_item(cmd: ListItemForSale, deps: Deps) -> Item:
    """List once per listing id: a redelivered command or a retried request with the same
    Idempotency-Key answers the first item; the same key for another item is refused."""
    try:
        async with deps.db.transaction() as conn:
            row = await repo.insert_item(
                conn, cmd.seller_id, cmd.listing_id, cmd.title, cmd.description, cmd.price_cents
            )
            if row is None:
                return _same_listing(cmd, await repo.item_by_listing(
                    conn, cmd.seller_id, cmd.listing_id
                ))
            item = item_of(row)
            await add_event(conn, OUTBOX, cmd.seller_id, events.ItemListed(
                item_id=item.public_id, seller_id=item.seller_id, title=item.title,
                description=item.description, price_cents=item.price_cents,
            ), request_id())
    except asyncpg.ForeignKeyViolationError:
        raise Refusal(ErrorCode.USER_NOT_FOUND, "the seller does not exist") from None
    deps.outbox.wake()
    return item


def _same_listing(cmd: ListItemForSale, row: asyncpg.Record | None) -> Item:
    """The item this listing id made, when the command is the same one again."""
    if row is None or (row["title"], row["description"], row["price"]) != (
        cmd.title, cmd.description, cmd.price_cents
    ):
        raise Refusal(
            ErrorCode.IDEMPOTENCY_KEY_REUSED, "this Idempotency-Key was used for another item"
        )
    return item_of(row)


async def update_item(cmd: UpdateItem, deps: Deps) -> Item:
    if cmd.editor_id != cmd.seller_id:
        await _refuse_stranger(cmd.seller_id, cmd.item_id, deps)
    async with deps.db.transaction() as conn:
        row = await repo.update_available_item(
            conn, cmd.seller_id, cmd.item_id, cmd.title, cmd.description, cmd.price_cents
        )
        if row is None:
            _refuse_unchangeable(await repo.get_item(conn, cmd.seller_id, cmd.item_id))
        item = item_of(row)
        await add_event(conn, OUTBOX, cmd.seller_id, events.ItemUpdated(
            item_id=item.public_id, seller_id=item.seller_id, title=item.title,
            description=item.description, price_cents=item.price_cents,
        ), request_id())
    deps.outbox.wake()
    return item


async def delete_item(cmd: DeleteItem, deps: Deps) -> Item:
    """A hard delete of an available item; a repeated delete finds nothing (404)."""
    if cmd.requester_id != cmd.seller_id:
        await _refuse_stranger(cmd.seller_id, cmd.item_id, deps)
    async with deps.db.transaction() as conn:
        row = await repo.delete_available_item(conn, cmd.seller_id, cmd.item_id)
        if row is None:
            _refuse_unchangeable(await repo.get_item(conn, cmd.seller_id, cmd.item_id))
        await add_event(conn, OUTBOX, cmd.seller_id, events.ItemDeleted(
            item_id=format_item_id(cmd.seller_id, cmd.item_id), seller_id=cmd.seller_id,
        ), request_id())
    deps.outbox.wake()
    return item_of(row)


async def _refuse_stranger(seller_id: int, item_id: int, deps: Deps) -> NoReturn:
    """Someone other than the seller: 404 when there is no such item, else not_owner."""
    async with deps.db.connection() as conn:
        row = await repo.get_item(conn, seller_id, item_id)
    if row is None:
        raise Refusal(ErrorCode.ITEM_NOT_FOUND, "no such item")
    raise Refusal(ErrorCode.NOT_OWNER, "only the seller may change or delete this item")


def _refuse_unchangeable(row: asyncpg.Record | None) -> NoReturn:
    if row is None:
        raise Refusal(ErrorCode.ITEM_NOT_FOUND, "no such item")
    raise Refusal(
        ErrorCode.ITEM_NOT_EDITABLE, f"the item is {row['status']}: it cannot be changed"
    )


async def get_item(query: GetItem, deps: Deps) -> Item:
    async with deps.db.connection() as conn:
        row = await repo.get_item(conn, query.seller_id, query.item_id)
    if row is None:
        raise Refusal(ErrorCode.ITEM_NOT_FOUND, "no such item")
    return item_of(row)


async def browse_items(query: BrowseItems, deps: Deps) -> ItemPage:
    """The feed: fan-out across sellers, so it may be served by the read pool."""
    after = (query.after.created_at, query.after.item_id) if query.after else repo.FIRST_PAGE
    async with deps.reader.connection() as conn:
        if query.status == "all":
            rows = await repo.feed_all(conn, after, query.limit + 1)
        else:
            rows = await repo.feed_by_status(conn, query.status, after, query.limit + 1)
    return _item_page(rows, query.limit)


async def seller_items(query: GetSellerItems, deps: Deps) -> ItemPage:
    """A seller's own items: read from the primary, sellers see their fresh listings."""
    after = (query.after.created_at, query.after.item_id) if query.after else repo.FIRST_PAGE
    async with deps.db.connection() as conn:
        rows = await repo.seller_items(conn, query.seller_id, after, query.limit + 1)
    return _item_page(rows, query.limit)


def _item_page(rows: list[asyncpg.Record], limit: int) -> ItemPage:
    """One row past the limit was read: its presence says there is a next page."""
    items = [item_of(row) for row in rows[:limit]]
    if len(rows) <= limit:
        return ItemPage(items=items)
    last = items[-1]
    return ItemPage(
        items=items, next_after=FeedPosition(created_at=last.created_at, item_id=last.item_id)
    )


async def search_items(query: SearchItems, deps: Deps) -> SearchPage:
    after = (
        (query.after.rank, query.after.created_at, query.after.item_id)
        if query.after
        else repo.FIRST_SEARCH_PAGE
    )
    async with deps.reader.connection() as conn:
        rows = await repo.search(conn, query.query, after, query.limit + 1)
    items = [item_of(row) for row in rows[: query.limit]]
    if len(rows) <= query.limit:
        return SearchPage(items=items)
    last = rows[query.limit - 1]
    return SearchPage(items=items, next_after=SearchPosition(
        rank=last["rank"], created_at=last["created_at"], item_id=last["id"]
    ))


HANDLERS = {
    ListItemForSale: list_item,
    UpdateItem: update_item,
    DeleteItem: delete_item,
    GetItem: get_item,
    BrowseItems: browse_items,
    GetSellerItems: seller_items,
    SearchItems: search_items,
    ReserveItem: reserve_item,
    ReleaseItem: release_item,
    MarkItemSold: mark_item_sold,
}


def bootstrap(deps: Deps) -> dict[type[Message], Handler]:
    """Bind every handler to the worker's dependencies."""
    return {message: partial(handler, deps=deps) for message, handler in HANDLERS.items()}
