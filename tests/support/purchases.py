"""Buying through the API and checking what the saga left behind: outcomes (waiting out
a `202`), balances, and the money and item invariants of `reliability.md`."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
import httpx

from tests.support.users import TestUser

FINAL = ("completed", "failed")


async def buy(
    api: httpx.AsyncClient, buyer: TestUser, item_id: str, key: str | None = None
) -> httpx.Response:
    headers = {**buyer.headers, **({"Idempotency-Key": key} if key else {})}
    return await api.post(f"/api/transactions/purchase/{item_id}", headers=headers)


async def status(api: httpx.AsyncClient, buyer: TestUser, purchase_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/transactions/purchase/{purchase_id}", headers=buyer.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def final_status(
    api: httpx.AsyncClient, buyer: TestUser, purchase_id: str, timeout: float = 30.0
) -> dict[str, Any]:
    """The purchase's status once its saga ended (polling while it is pending)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await api.get(
            f"/api/transactions/purchase/{purchase_id}", headers=buyer.headers
        )
        if response.status_code not in (503, 504):  # unknown (a worker restarting): ask again
            assert response.status_code == 200, response.text
            if response.json()["status"] in FINAL:
                return response.json()
        assert time.monotonic() < deadline, f"purchase {purchase_id} still pending"
        await asyncio.sleep(0.2)


async def outcome(api: httpx.AsyncClient, buyer: TestUser, response: httpx.Response) -> str:
    """What a purchase came to: "completed", or the error code it failed with. A `202`
    is followed until the saga ends."""
    if response.status_code == 201:
        return "completed"
    if response.status_code == 202:
        ended = await final_status(api, buyer, response.json()["purchase_id"])
        return "completed" if ended["status"] == "completed" else ended["error"]["code"]
    return response.json()["error"]["code"]


async def purchase_outcome(
    api: httpx.AsyncClient, buyer: TestUser, item_id: str, timeout: float = 30.0
) -> str:
    """Buy as a careful client does: with an Idempotency-Key, retrying with the same key
    while the answer is unknown (503, 504: the broker went away meanwhile, say), then
    following a `202`. Returns "completed" or the error code the purchase failed with."""
    key = uuid.uuid4().hex
    deadline = time.monotonic() + timeout
    while True:
        response = await buy(api, buyer, item_id, key)
        if response.status_code not in (503, 504) or time.monotonic() > deadline:
            return await outcome(api, buyer, response)
        await asyncio.sleep(0.5)


async def balance(api: httpx.AsyncClient, user: TestUser) -> str:
    response = await api.get("/api/users/profile", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["balance"]


async def money_of(db: asyncpg.Connection, users: list[TestUser]) -> tuple[int, int]:
    """(sum of balances, sum of deposits) of these users, in cents."""
    ids = [int(user.id) for user in users]
    balances = await db.fetchval(
        "SELECT coalesce(sum(balance), 0) FROM users WHERE id = ANY($1::bigint[])", ids
    )
    deposits = await db.fetchval(
        "SELECT coalesce(sum(amount), 0) FROM ledger"
        " WHERE user_id = ANY($1::bigint[]) AND kind = 'deposit'", ids,
    )
    return balances, deposits


async def negative_balances(db: asyncpg.Connection, users: list[TestUser]) -> int:
    return await db.fetchval(
        "SELECT count(*) FROM users WHERE id = ANY($1::bigint[]) AND balance < 0",
        [int(user.id) for user in users],
    )


async def sagas_of(db: asyncpg.Connection, buyers: list[TestUser]) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT buyer_id, purchase_id, state, seller_id, item_id, amount FROM purchases"
        " WHERE buyer_id = ANY($1::bigint[])",
        [int(user.id) for user in buyers],
    )


async def check_items(db: asyncpg.Connection, buyers: list[TestUser]) -> None:
    """Each item the buyers tried is sold at most once, to the one purchase that completed
    (which has exactly one sale row); an item no purchase completed is not sold."""
    sagas = await sagas_of(db, buyers)
    for seller_id, item_id in {(s["seller_id"], s["item_id"]) for s in sagas}:
        completed = [
            s for s in sagas
            if (s["seller_id"], s["item_id"]) == (seller_id, item_id) and s["state"] == "COMPLETED"
        ]
        item = await db.fetchrow(
            "SELECT status, reserved_by FROM items WHERE seller_id = $1 AND id = $2",
            seller_id, item_id,
        )
        assert len(completed) <= 1
        if completed:
            assert item["status"] == "sold"
            assert item["reserved_by"] == completed[0]["purchase_id"]
            sales = await db.fetchval(
                "SELECT count(*) FROM transactions WHERE seller_id = $1 AND purchase_id = $2",
                seller_id, completed[0]["purchase_id"],
            )
            assert sales == 1
        elif item is not None:
            assert item["status"] == "available", (seller_id, item_id, item["status"])
    failed = [s["purchase_id"] for s in sagas if s["state"] == "FAILED"]
    assert await db.fetchval(
        "SELECT count(*) FROM transactions WHERE purchase_id = ANY($1::uuid[])", failed
    ) == 0
