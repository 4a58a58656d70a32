"""The Transactions table of `api.md` through the whole stack: the purchase saga across
the gateway, the transactions, products and accounts workers, with each error code,
concurrency (one item, many buyers; one buyer, two items), idempotent retries, the
status endpoint and the purchases and sales lists."""

from __future__ import annotations

import asyncio
import re
import uuid

import asyncpg
import httpx

from tests.support import users
from tests.support.items import create_item
from tests.support.purchases import (
    balance,
    buy,
    check_items,
    final_status,
    money_of,
    negative_balances,
    outcome,
    sagas_of,
    status,
)
from tests.support.users import deposit, register

TRANSACTION_KEYS = {"id", "purchase_id", "item_id", "seller_id", "buyer_id", "amount", "status",
                    "created_at"}
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


async def item_status(api: httpx.AsyncClient, item_id: str) -> str:
    response = await api.get(f"/api/items/{item_id}")
    assert response.status_code == 200, response.text
    return response.json()["status"]


async def funded(
    api: httpx.AsyncClient, amount: str, prefix: str = "buyer"
) -> users.TestUser:
    user = await register(api, prefix)
    await deposit(api, user, amount)
    return user


async def test_a_purchase_moves_the_money_and_sells_the_item(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    seller = await register(api, "seller")
    item = await create_item(api, seller, price="12.50")
    buyer = await funded(api, "20.00")

    response = await buy(api, buyer, item["id"])

    assert response.status_code == 201, response.text
    sale = response.json()
    assert set(sale) == TRANSACTION_KEYS
    assert sale["item_id"] == item["id"]
    assert (sale["seller_id"], sale["buyer_id"]) == (seller.id, buyer.id)
    assert sale["amount"] == "12.50" and sale["status"] == "completed"
    assert all(isinstance(sale[key], str) for key in TRANSACTION_KEYS)
    assert RFC3339_UTC.match(sale["created_at"])
    assert uuid.UUID(sale["purchase_id"])
    assert await balance(api, buyer) == "7.50"
    assert await balance(api, seller) == "12.50"
    assert await item_status(api, item["id"]) == "sold"

    purchases = await api.get("/api/transactions/purchases", headers=buyer.headers)
    assert purchases.status_code == 200
    assert purchases.json() == {"transactions": [sale], "next_cursor": None}
    sales = await api.get("/api/transactions/sales", headers=seller.headers)
    assert sales.json() == {"transactions": [sale], "next_cursor": None}
    assert (await api.get("/api/transactions/sales", headers=buyer.headers)).json() == {
        "transactions": [], "next_cursor": None
    }
    assert await status(api, buyer, sale["purchase_id"]) == {
        "purchase_id": sale["purchase_id"], "status": "completed", "transaction": sale,
        "error": None,
    }
    assert await money_of(db, [buyer, seller]) == (2000, 2000)
    await check_items(db, [buyer])


async def test_insufficient_funds_changes_nothing(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    seller = await register(api, "seller")
    item = await create_item(api, seller, price="12.50")
    buyer = await funded(api, "12.49")

    response = await buy(api, buyer, item["id"])

    assert response.status_code == 402, response.text
    assert error_code(response) == "insufficient_funds"
    assert await balance(api, buyer) == "12.49"
    assert await balance(api, seller) == "0.00"
    assert await item_status(api, item["id"]) == "available"
    failed = await status(api, buyer, response.json()["error"]["details"]["purchase_id"])
    assert failed["status"] == "failed" and failed["transaction"] is None
    assert failed["error"]["code"] == "insufficient_funds"
    purchases = await api.get("/api/transactions/purchases", headers=buyer.headers)
    assert purchases.json()["transactions"] == []
    await check_items(db, [buyer])


async def test_the_refusals_of_a_purchase(api: httpx.AsyncClient) -> None:
    seller = await register(api, "seller")
    item = await create_item(api, seller, price="5.00")
    buyer = await funded(api, "20.00")
    other = await funded(api, "20.00")

    own = await buy(api, seller, item["id"])
    assert (own.status_code, error_code(own)) == (400, "cannot_buy_own_item")

    assert (await buy(api, buyer, item["id"])).status_code == 201
    sold = await buy(api, other, item["id"])
    assert (sold.status_code, error_code(sold)) == (409, "item_not_available")
    assert await balance(api, other) == "20.00"

    for missing in (f"{seller.id}-999999999", "999999999-1", "abc", "1-", "0-1", "1-2-3"):
        response = await buy(api, buyer, missing)
        assert (response.status_code, error_code(response)) == (404, "item_not_found"), missing
    assert await balance(api, buyer) == "15.00"

    anonymous = await api.post(f"/api/transactions/purchase/{item['id']}")
    assert anonymous.status_code == 401
    for path in ("/api/transactions/purchases", "/api/transactions/sales",
                 f"/api/transactions/purchase/{uuid.uuid4()}"):
        assert (await api.get(path)).status_code == 401


async def test_fifty_buyers_one_item_one_purchase(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    seller = await register(api, "seller")
    item = await create_item(api, seller, price="12.50")
    buyers = list(await asyncio.gather(*(funded(api, "20.00") for _ in range(50))))

    responses = await asyncio.gather(*(buy(api, buyer, item["id"]) for buyer in buyers))
    outcomes = await asyncio.gather(
        *(outcome(api, buyer, response) for buyer, response in zip(buyers, responses, strict=True))
    )

    assert outcomes.count("completed") == 1
    assert set(outcomes) == {"completed", "item_not_available"}
    assert all(r.status_code in (201, 202, 409) for r in responses)
    assert await item_status(api, item["id"]) == "sold"
    everyone = [*buyers, seller]
    assert await money_of(db, everyone) == (50 * 2000, 50 * 2000)
    assert await balance(api, seller) == "12.50"
    assert await negative_balances(db, everyone) == 0
    await check_items(db, buyers)


async def test_two_purchases_over_one_balance_at_most_one_succeeds(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    sellers = [await register(api, "seller") for _ in range(2)]
    items = [await create_item(api, seller, price="10.00") for seller in sellers]
    buyer = await funded(api, "15.00")

    responses = await asyncio.gather(*(buy(api, buyer, item["id"]) for item in items))
    outcomes = sorted([await outcome(api, buyer, response) for response in responses])

    assert outcomes == ["completed", "insufficient_funds"]
    assert await balance(api, buyer) == "5.00"
    statuses = sorted([await item_status(api, item["id"]) for item in items])
    assert statuses == ["available", "sold"]
    assert await money_of(db, [buyer, *sellers]) == (1500, 1500)
    assert await negative_balances(db, [buyer, *sellers]) == 0
    await check_items(db, [buyer])


async def test_a_retried_purchase_buys_once(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    seller = await register(api, "seller")
    item = await create_item(api, seller, price="3.00")
    another = await create_item(api, seller, price="3.00")
    buyer = await funded(api, "10.00")
    key = uuid.uuid4().hex

    first = await buy(api, buyer, item["id"], key)
    again = await buy(api, buyer, item["id"], key)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert await balance(api, buyer) == "7.00"
    reused = await buy(api, buyer, another["id"], key)
    assert (reused.status_code, error_code(reused)) == (409, "idempotency_key_reused")
    assert await item_status(api, another["id"]) == "available"
    assert len(await sagas_of(db, [buyer])) == 1


async def test_concurrent_retries_with_one_key_buy_once(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    seller = await register(api, "seller")
    item = await create_item(api, seller, price="4.00")
    buyer = await funded(api, "10.00")
    key = uuid.uuid4().hex

    responses = await asyncio.gather(*(buy(api, buyer, item["id"], key) for _ in range(5)))

    assert {r.status_code for r in responses} <= {201, 202}
    ids = {r.json()["purchase_id"] for r in responses}
    assert len(ids) == 1
    ended = await final_status(api, buyer, ids.pop())
    assert ended["status"] == "completed"
    assert await balance(api, buyer) == "6.00"
    assert len(await sagas_of(db, [buyer])) == 1
    await check_items(db, [buyer])


async def test_a_failed_purchase_retried_with_its_key_answers_the_same_failure(
    api: httpx.AsyncClient,
) -> None:
    seller = await register(api, "seller")
    item = await create_item(api, seller, price="30.00")
    buyer = await funded(api, "10.00")
    key = uuid.uuid4().hex

    first = await buy(api, buyer, item["id"], key)
    await deposit(api, buyer, "50.00")  # now it could pay, but the key names that purchase
    again = await buy(api, buyer, item["id"], key)

    assert first.status_code == again.status_code == 402
    assert again.json() == first.json()
    assert await balance(api, buyer) == "60.00"
    assert (await buy(api, buyer, item["id"], uuid.uuid4().hex)).status_code == 201


async def test_the_status_of_a_purchase_is_the_buyers_own(api: httpx.AsyncClient) -> None:
    seller = await register(api, "seller")
    item = await create_item(api, seller, price="1.00")
    buyer = await funded(api, "1.00")
    sale = (await buy(api, buyer, item["id"])).json()

    for user, purchase_id in (
        (seller, sale["purchase_id"]), (buyer, str(uuid.uuid4())), (buyer, "not-a-uuid"),
    ):
        response = await api.get(f"/api/transactions/purchase/{purchase_id}",
                                  headers=user.headers)
        assert (response.status_code, error_code(response)) == (404, "purchase_not_found")
    assert (await status(api, buyer, sale["purchase_id"]))["status"] == "completed"


async def test_purchases_and_sales_pages_newest_first(api: httpx.AsyncClient) -> None:
    seller = await register(api, "seller")
    items = [await create_item(api, seller, price=f"{n}.00") for n in (1, 2, 3)]
    buyer = await funded(api, "6.00")
    bought = []
    for item in items:
        response = await buy(api, buyer, item["id"])
        assert response.status_code == 201, response.text
        bought.append(response.json())
    newest_first = list(reversed(bought))

    for user, path in ((buyer, "/api/transactions/purchases"),
                       (seller, "/api/transactions/sales")):
        first = (await api.get(path, params={"limit": "2"}, headers=user.headers)).json()
        assert first["transactions"] == newest_first[:2] and first["next_cursor"]
        second = (await api.get(path, params={"limit": "2", "cursor": first["next_cursor"]},
                                headers=user.headers)).json()
        assert second == {"transactions": newest_first[2:], "next_cursor": None}
        for bad in ({"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"cursor": "nope"},
                    {"cursor": first["next_cursor"][:-3]}):
            response = await api.get(path, params=bad, headers=user.headers)
            assert (response.status_code, error_code(response)) == (400, "validation_error")
