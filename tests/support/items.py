"""Listing items through the API, walking paginated lists, and driving an item through
the purchase saga's steps with real commands (the saga itself is not needed)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from broker.connection import BrokerConnection
from broker.rpc import RpcClient
from contracts.products import MarkItemSold, ReserveItem, parse_item_id
from tests.support.users import TestUser


def unique_word(prefix: str = "w") -> str:
    """A word no other test uses, that the English stemmer leaves alone (letters only)."""
    letters = "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:12])
    return f"{prefix}{letters}q"


async def create_item(
    api: httpx.AsyncClient,
    seller: TestUser,
    title: str = "Brass lamp",
    price: Any = "12.50",
    description: str = "A lamp from the fifties",
) -> dict[str, Any]:
    response = await api.post(
        "/api/items",
        json={"title": title, "description": description, "price": price},
        headers=seller.headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


async def walk(
    api: httpx.AsyncClient, path: str, limit: int, params: dict[str, str] | None = None,
    between_pages: Any = None,
) -> list[dict[str, Any]]:
    """Every item of a paginated list, page by page; `between_pages` runs after each page."""
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(10_000):
        query = {"limit": str(limit), **(params or {})}
        if cursor is not None:
            query["cursor"] = cursor
        response = await api.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= limit
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
        if between_pages is not None:
            await between_pages()
    raise AssertionError("the list did not end")


@asynccontextmanager
async def rpc_client(amqp_url: str) -> AsyncIterator[RpcClient]:
    """An RPC client of the suite's broker, as the saga would use."""
    broker = BrokerConnection(amqp_url, name="itemx-test-items")
    rpc = RpcClient(broker, default_timeout=10)
    await broker.start(wait=10)
    try:
        yield rpc
    finally:
        await broker.close()


async def reserve(rpc: RpcClient, item: dict[str, Any], buyer_id: int) -> uuid.UUID:
    """Reserve an item for a new purchase by `buyer_id`; return the purchase id."""
    seller_id, item_id = parse_item_id(item["id"]) or (0, 0)
    purchase_id = uuid.uuid4()
    await rpc.call(ReserveItem(
        purchase_id=purchase_id, seller_id=seller_id, item_id=item_id, buyer_id=buyer_id
    ))
    return purchase_id


async def sell(rpc: RpcClient, item: dict[str, Any], buyer_id: int) -> uuid.UUID:
    """Reserve and mark sold, as a completed purchase does; return the purchase id."""
    purchase_id = await reserve(rpc, item, buyer_id)
    seller_id, item_id = parse_item_id(item["id"]) or (0, 0)
    await rpc.call(MarkItemSold(
        purchase_id=purchase_id, seller_id=seller_id, item_id=item_id, buyer_id=buyer_id
    ))
    return purchase_id
