"""The compensation path no API call can provoke: a credit to the seller is refused after
the buyer was debited. The saga must refund the buyer and release the item, ending
FAILED with every balance as it was.

The suite's accounts worker is swapped for one that runs the real accounts handlers
against the real database, except that it refuses every credit. The saga, products,
the gateway and the database are the real ones: only the seller's side is made to fail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from broker.connection import BrokerConnection
from broker.consumer import Consumer
from broker.outbox import OutboxRelay
from broker.publisher import Publisher
from broker.topology import ACCOUNTS
from contracts import ErrorCode, Refusal
from contracts.accounts import CreditFunds, FundsMoved
from tests.support.items import create_item
from tests.support.processes import Stack
from tests.support.purchases import buy, final_status
from tests.support.users import deposit, register
from workers.accounts import handlers
from workers.common.db import Database


async def refuse_credit(cmd: CreditFunds) -> FundsMoved:
    raise Refusal(ErrorCode.USER_NOT_FOUND, "the seller's account is closed")


@pytest.fixture
async def accounts_refusing_credit(
    stack: Stack, database_url: str, amqp_url: str
) -> AsyncIterator[None]:
    """The accounts service with every credit refused, for the length of one test."""
    stack["accounts"].stop()
    db = await Database.connect(database_url, min_size=1, max_size=4)
    broker = BrokerConnection(amqp_url, name="itemx-test-accounts-refusing-credit")
    publisher = Publisher(broker)
    deps = handlers.Deps(db=db, outbox=OutboxRelay(db.pool, publisher, handlers.OUTBOX),
                         bcrypt_rounds=4)
    bound = {**handlers.bootstrap(deps), CreditFunds: refuse_credit}
    consumers = [
        Consumer(broker, publisher, queue, bound, service="accounts-test")
        for queue in (ACCOUNTS.commands, ACCOUNTS.queries)
    ]
    await broker.start(wait=10)
    try:
        yield
    finally:
        for consumer in consumers:
            await consumer.stop()
        await broker.close()
        await db.close()
        stack["accounts"].start()
        stack["accounts"].wait_healthy()


async def test_a_refused_credit_refunds_the_buyer_and_releases_the_item(
    api: httpx.AsyncClient, db: asyncpg.Connection, accounts_refusing_credit: None
) -> None:
    seller, buyer = await register(api, "seller"), await register(api, "buyer")
    await deposit(api, buyer, "30.00")
    item = await create_item(api, seller, price="12.50")

    response = await buy(api, buyer, item["id"])

    assert response.status_code in (202, 404), response.text
    if response.status_code == 202:
        ended = await final_status(api, buyer, response.json()["purchase_id"])
        assert ended["status"] == "failed"
        assert ended["error"]["code"] == "user_not_found"
    else:
        assert response.json()["error"]["code"] == "user_not_found"

    balances = dict(await db.fetch(
        "SELECT id, balance FROM users WHERE id = ANY($1::bigint[])",
        [int(seller.id), int(buyer.id)],
    ))
    assert balances == {int(buyer.id): 3000, int(seller.id): 0}
    movements = sorted(
        (row["kind"], row["amount"]) for row in await db.fetch(
            "SELECT kind, amount FROM ledger WHERE user_id = $1 AND kind <> 'deposit'",
            int(buyer.id),
        )
    )
    assert movements == [("debit", 1250), ("refund", 1250)]
    shown = await api.get(f"/api/items/{item['id']}")
    assert shown.json()["status"] == "available"
    purchase = await db.fetchrow(
        "SELECT state, error_code FROM purchases WHERE buyer_id = $1", int(buyer.id)
    )
    assert (purchase["state"], purchase["error_code"]) == ("FAILED", "user_not_found")
    failed_events = await db.fetchval(
        "SELECT count(*) FROM transactions_outbox WHERE key = $1 AND type = 'purchase.failed'",
        int(buyer.id),
    )
    assert failed_events == 1
    assert await db.fetchval(
        "SELECT count(*) FROM transactions WHERE buyer_id = $1", int(buyer.id)
    ) == 0
