"""The item's steps of the purchase saga against the real database: reserve, release and
mark sold are idempotent per purchase and refuse other purchases; then the same steps as
commands through RabbitMQ to the running products worker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from broker.connection import BrokerConnection
from broker.outbox import OutboxRelay
from broker.publisher import Publisher
from broker.rpc import RemoteError
from contracts import ErrorCode, Refusal
from contracts.products import (
    ItemReleased,
    ItemReserved,
    ItemSold,
    ListItemForSale,
    MarkItemSold,
    ReleaseItem,
    ReserveItem,
)
from tests.support.items import rpc_client
from tests.support.processes import Stack
from tests.support.users import unique_name
from workers.accounts import repository as accounts_repo
from workers.common.db import Database
from workers.products import handlers
from workers.products.deps import OUTBOX, Deps


@pytest.fixture
async def deps(database_url: str, amqp_url: str) -> AsyncIterator[Deps]:
    """The products handlers' dependencies; the outbox relay is not started (the rows it
    would publish are checked in the table)."""
    database = await Database.connect(database_url, min_size=1, max_size=25)
    relay = OutboxRelay(database.pool, Publisher(BrokerConnection(amqp_url, name="unused")),
                        OUTBOX)
    try:
        yield Deps(db=database, outbox=relay)
    finally:
        await database.close()


async def new_user(deps: Deps) -> int:
    name = unique_name("r")
    async with deps.db.transaction() as conn:
        row = await accounts_repo.insert_user(conn, name, f"{name}@example.com", "-", uuid.uuid4())
    return row["id"]


async def new_item(deps: Deps, seller_id: int, price_cents: int = 1250) -> tuple[int, int]:
    item = await handlers.list_item(ListItemForSale(
        listing_id=uuid.uuid4(), seller_id=seller_id, title="Lamp", price_cents=price_cents
    ), deps)
    return item.seller_id, item.item_id


async def state(deps: Deps, key: tuple[int, int]) -> asyncpg.Record:
    async with deps.db.connection() as conn:
        return await conn.fetchrow(
            "SELECT status, reserved_by, buyer_id, sold_at FROM items"
            " WHERE seller_id = $1 AND id = $2", *key,
        )


async def events_of(deps: Deps, key: tuple[int, int], kind: str) -> int:
    async with deps.db.connection() as conn:
        return await conn.fetchval(
            "SELECT count(*) FROM products_outbox WHERE key = $1 AND type = $2"
            " AND body::jsonb ->> 'item_id' = $3", key[0], kind, f"{key[0]}-{key[1]}",
        )


def reserve(key: tuple[int, int], purchase: uuid.UUID, buyer: int) -> ReserveItem:
    return ReserveItem(purchase_id=purchase, seller_id=key[0], item_id=key[1], buyer_id=buyer)


def release(key: tuple[int, int], purchase: uuid.UUID) -> ReleaseItem:
    return ReleaseItem(purchase_id=purchase, seller_id=key[0], item_id=key[1])


def mark_sold(key: tuple[int, int], purchase: uuid.UUID, buyer: int) -> MarkItemSold:
    return MarkItemSold(purchase_id=purchase, seller_id=key[0], item_id=key[1], buyer_id=buyer)


async def refused(step: object) -> ErrorCode:
    with pytest.raises(Refusal) as refusal:
        await step  # type: ignore[misc]
    return refusal.value.code


async def test_reserve_is_idempotent_per_purchase(deps: Deps) -> None:
    seller, buyer, other = await new_user(deps), await new_user(deps), await new_user(deps)
    key = await new_item(deps, seller)
    purchase = uuid.uuid4()
    first = await handlers.reserve_item(reserve(key, purchase, buyer), deps)
    assert first == ItemReserved(purchase_id=purchase, seller_id=key[0], item_id=key[1],
                                 price_cents=1250, title="Lamp")
    assert await handlers.reserve_item(reserve(key, purchase, buyer), deps) == first
    row = await state(deps, key)
    assert (row["status"], row["reserved_by"], row["buyer_id"]) == ("reserved", purchase, buyer)
    another = reserve(key, uuid.uuid4(), other)
    assert await refused(handlers.reserve_item(another, deps)) == ErrorCode.ITEM_NOT_AVAILABLE
    own = reserve(key, uuid.uuid4(), seller)
    assert await refused(handlers.reserve_item(own, deps)) == ErrorCode.CANNOT_BUY_OWN_ITEM
    assert (await state(deps, key))["reserved_by"] == purchase


async def test_reserve_refusals(deps: Deps) -> None:
    seller, buyer = await new_user(deps), await new_user(deps)
    key = await new_item(deps, seller)
    own = reserve(key, uuid.uuid4(), seller)
    assert await refused(handlers.reserve_item(own, deps)) == ErrorCode.CANNOT_BUY_OWN_ITEM
    assert (await state(deps, key))["status"] == "available"
    missing = reserve((seller, key[1] + 10_000_000), uuid.uuid4(), buyer)
    assert await refused(handlers.reserve_item(missing, deps)) == ErrorCode.ITEM_NOT_FOUND
    wrong_seller = reserve((buyer, key[1]), uuid.uuid4(), seller)
    assert await refused(handlers.reserve_item(wrong_seller, deps)) == ErrorCode.ITEM_NOT_FOUND


async def test_one_of_many_concurrent_reservations_wins(deps: Deps) -> None:
    seller = await new_user(deps)
    buyers = [await new_user(deps) for _ in range(12)]
    key = await new_item(deps, seller)
    outcomes = await asyncio.gather(
        *(handlers.reserve_item(reserve(key, uuid.uuid4(), buyer), deps) for buyer in buyers),
        return_exceptions=True,
    )
    winners = [o for o in outcomes if isinstance(o, ItemReserved)]
    assert len(winners) == 1
    assert all(isinstance(o, Refusal) and o.code == ErrorCode.ITEM_NOT_AVAILABLE
               for o in outcomes if o not in winners)
    assert (await state(deps, key))["reserved_by"] == winners[0].purchase_id


async def test_release_only_releases_its_own_reservation(deps: Deps) -> None:
    seller, buyer, other = await new_user(deps), await new_user(deps), await new_user(deps)
    key = await new_item(deps, seller)
    purchase = uuid.uuid4()
    await handlers.reserve_item(reserve(key, purchase, buyer), deps)
    stranger = uuid.uuid4()
    answer = await handlers.release_item(release(key, stranger), deps)
    assert answer == ItemReleased(purchase_id=stranger, seller_id=key[0], item_id=key[1])
    assert (await state(deps, key))["status"] == "reserved"
    released = await handlers.release_item(release(key, purchase), deps)
    assert released == ItemReleased(purchase_id=purchase, seller_id=key[0], item_id=key[1])
    row = await state(deps, key)
    assert (row["status"], row["reserved_by"], row["buyer_id"]) == ("available", None, None)
    assert await handlers.release_item(release(key, purchase), deps) == released
    missing = release((seller, key[1] + 10_000_000), purchase)
    assert isinstance(await handlers.release_item(missing, deps), ItemReleased)
    # released: another purchase may reserve it now
    assert await handlers.reserve_item(reserve(key, uuid.uuid4(), other), deps)


async def test_mark_sold_is_idempotent_and_announced_once(deps: Deps) -> None:
    seller, buyer, other = await new_user(deps), await new_user(deps), await new_user(deps)
    key = await new_item(deps, seller)
    purchase = uuid.uuid4()
    never_reserved = mark_sold(key, purchase, buyer)
    assert await refused(handlers.mark_item_sold(never_reserved, deps)) == (
        ErrorCode.ITEM_NOT_AVAILABLE
    )
    await handlers.reserve_item(reserve(key, purchase, buyer), deps)
    by_another = mark_sold(key, uuid.uuid4(), other)
    assert await refused(handlers.mark_item_sold(by_another, deps)) == (
        ErrorCode.ITEM_NOT_AVAILABLE
    )
    sold = await handlers.mark_item_sold(mark_sold(key, purchase, buyer), deps)
    assert sold == ItemSold(purchase_id=purchase, seller_id=key[0], item_id=key[1])
    assert await handlers.mark_item_sold(mark_sold(key, purchase, buyer), deps) == sold
    row = await state(deps, key)
    assert (row["status"], row["reserved_by"], row["buyer_id"]) == ("sold", purchase, buyer)
    assert row["sold_at"] is not None
    assert await events_of(deps, key, "item.sold") == 1
    # once sold: a late release is a no-op, other purchases are refused, the buyer's own
    # redelivered reserve answers the same as before
    await handlers.release_item(release(key, purchase), deps)
    assert (await state(deps, key))["status"] == "sold"
    late = reserve(key, uuid.uuid4(), other)
    assert await refused(handlers.reserve_item(late, deps)) == ErrorCode.ITEM_NOT_AVAILABLE
    again = await handlers.reserve_item(reserve(key, purchase, buyer), deps)
    assert again.purchase_id == purchase
    missing = mark_sold((seller, key[1] + 10_000_000), purchase, buyer)
    assert await refused(handlers.mark_item_sold(missing, deps)) == ErrorCode.ITEM_NOT_FOUND


async def test_a_redelivered_listing_lists_once(deps: Deps) -> None:
    seller = await new_user(deps)
    command = ListItemForSale(listing_id=uuid.uuid4(), seller_id=seller, title="Lamp",
                              description="Brass", price_cents=500)
    first, again = await asyncio.gather(
        handlers.list_item(command, deps), handlers.list_item(command, deps)
    )
    assert first == again
    key = (first.seller_id, first.item_id)
    assert await events_of(deps, key, "item.listed") == 1
    changed = command.model_copy(update={"price_cents": 600})
    assert await refused(handlers.list_item(changed, deps)) == ErrorCode.IDEMPOTENCY_KEY_REUSED
    nobody = command.model_copy(update={"seller_id": 9_000_000_000, "listing_id": uuid.uuid4()})
    assert await refused(handlers.list_item(nobody, deps)) == ErrorCode.USER_NOT_FOUND


async def test_saga_steps_through_the_broker(deps: Deps, stack: Stack, amqp_url: str) -> None:
    """The same commands as the saga sends them: a duplicate gets the same answer."""
    seller, buyer = await new_user(deps), await new_user(deps)
    key = await new_item(deps, seller, price_cents=990)
    purchase = uuid.uuid4()
    async with rpc_client(amqp_url) as rpc:
        first, duplicate = await asyncio.gather(
            rpc.call(reserve(key, purchase, buyer)), rpc.call(reserve(key, purchase, buyer))
        )
        assert first == duplicate and isinstance(first, ItemReserved)
        assert first.price_cents == 990
        with pytest.raises(RemoteError) as refusal:
            await rpc.call(reserve(key, uuid.uuid4(), seller))
        assert refusal.value.reply.code == ErrorCode.CANNOT_BUY_OWN_ITEM
        sold = [await rpc.call(mark_sold(key, purchase, buyer)) for _ in range(2)]
        assert sold[0] == sold[1] == ItemSold(purchase_id=purchase, seller_id=key[0],
                                              item_id=key[1])
        assert await rpc.call(release(key, purchase)) == ItemReleased(
            purchase_id=purchase, seller_id=key[0], item_id=key[1]
        )
    assert (await state(deps, key))["status"] == "sold"
    assert await events_of(deps, key, "item.sold") == 1
