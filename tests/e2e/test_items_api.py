"""Every row of the Items table of `api.md`, with each of its error codes, through the
gateway and RabbitMQ to the products worker. Lists and search: test_items_lists.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import asyncpg
import httpx
import pytest

from broker.rpc import RpcClient
from tests.support.items import create_item, reserve, rpc_client, sell
from tests.support.processes import Stack
from tests.support.users import register

ITEM_KEYS = {"id", "seller_id", "title", "description", "price", "status", "created_at",
             "updated_at"}
MALFORMED_IDS = ["abc", "1", "1-", "-1", "0-1", "1-0", "01-2", "1-02", "1-2-3", "+1-2",
                 "1.0-2", "99999999999999999999-1", "1-9223372036854775808", "1--2", "１-２",
                 "1-2\n", "1-2 "]


@pytest.fixture
async def rpc(amqp_url: str) -> AsyncIterator[RpcClient]:
    async with rpc_client(amqp_url) as client:
        yield client


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


# --- POST /api/items ----------------------------------------------------------------


async def test_create_item_answers_201_with_the_item(api: httpx.AsyncClient) -> None:
    seller = await register(api)
    item = await create_item(api, seller, title="Brass lamp", price=12.5,
                             description="A lamp from the fifties")
    assert set(item) == ITEM_KEYS
    assert item["seller_id"] == seller.id
    assert item["title"] == "Brass lamp"
    assert item["description"] == "A lamp from the fifties"
    assert item["price"] == "12.50"
    assert item["status"] == "available"
    assert item["created_at"].endswith("Z") and item["created_at"] == item["updated_at"]
    assert isinstance(item["id"], str)


async def test_create_item_limits(api: httpx.AsyncClient) -> None:
    seller = await register(api)
    longest = await create_item(api, seller, title="t" * 200, description="d" * 5000,
                                price="1000000.00")
    assert longest["price"] == "1000000.00" and len(longest["title"]) == 200
    cheapest = await create_item(api, seller, title="é", description="", price="0.01")
    assert cheapest["price"] == "0.01" and cheapest["description"] == ""
    no_description = await api.post("/api/items", json={"title": "Lamp", "price": 1},
                                    headers=seller.headers)
    assert no_description.status_code == 201 and no_description.json()["description"] == ""


@pytest.mark.parametrize("body", [
    {"description": "no title", "price": "1.00"},
    {"title": "no price"},
    {"title": "", "price": "1.00"},
    {"title": "   ", "price": "1.00"},
    {"title": "t" * 201, "price": "1.00"},
    {"title": "Lamp", "description": "d" * 5001, "price": "1.00"},
    {"title": "Lamp\u0000", "price": "1.00"},
    {"title": 7, "price": "1.00"},
    {"title": "Lamp", "description": None, "price": "1.00"},
    {"title": "Lamp", "price": 0},
    {"title": "Lamp", "price": "-1.00"},
    {"title": "Lamp", "price": "1.234"},
    {"title": "Lamp", "price": "NaN"},
    {"title": "Lamp", "price": "1e3"},
    {"title": "Lamp", "price": "1000000.01"},
    {"title": "Lamp", "price": True},
    {"title": "Lamp", "price": None},
    {"title": "Lamp", "price": "12,50"},
    {"title": "Lamp", "price": "1.00", "seller_id": 1},
    {"title": "Lamp", "price": "1.00", "status": "sold"},
    {"title": "Lamp", "price": "1.00", "id": "1-1"},
])
async def test_create_item_refuses_bad_bodies(api: httpx.AsyncClient, body: dict) -> None:
    seller = await register(api)
    response = await api.post("/api/items", json=body, headers=seller.headers)
    assert response.status_code == 400, response.text
    assert error_code(response) == "validation_error"
    mine = await api.get(f"/api/items/user/{seller.id}")
    assert mine.json()["items"] == []


async def test_create_item_refuses_bad_json_big_bodies_and_strangers(
    api: httpx.AsyncClient,
) -> None:
    seller = await register(api)
    invalid = await api.post("/api/items", content=b'{"title": "Lamp",', headers=seller.headers)
    assert invalid.status_code == 400 and error_code(invalid) == "invalid_json"
    not_object = await api.post("/api/items", json=["Lamp"], headers=seller.headers)
    assert not_object.status_code == 400 and error_code(not_object) == "validation_error"
    huge = await api.post("/api/items", headers=seller.headers,
                          json={"title": "Lamp", "price": "1", "description": "d" * 70_000})
    assert huge.status_code == 413
    anonymous = await api.post("/api/items", json={"title": "Lamp", "price": "1.00"})
    assert anonymous.status_code == 401 and error_code(anonymous) == "unauthorized"
    forged = await api.post("/api/items", json={"title": "Lamp", "price": "1.00"},
                            headers={"x-auth-token": seller.token + "x"})
    assert forged.status_code == 401
    bearer = await api.post("/api/items", json={"title": "Lamp", "price": "1.00"},
                            headers={"Authorization": f"Bearer {seller.token}"})
    assert bearer.status_code == 201


async def test_create_item_with_an_idempotency_key_lists_once(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    seller = await register(api)
    headers = {**seller.headers, "Idempotency-Key": "listing-1"}
    body = {"title": "Lamp", "price": "3.00"}
    first, again = await asyncio.gather(
        api.post("/api/items", json=body, headers=headers),
        api.post("/api/items", json=body, headers=headers),
    )
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    other = await api.post("/api/items", json={**body, "price": "4.00"}, headers=headers)
    assert other.status_code == 409 and error_code(other) == "idempotency_key_reused"
    count = await db.fetchval("SELECT count(*) FROM items WHERE seller_id = $1", int(seller.id))
    assert count == 1


# --- GET /api/items/:id --------------------------------------------------------------


async def test_get_item(api: httpx.AsyncClient) -> None:
    seller = await register(api)
    item = await create_item(api, seller)
    response = await api.get(f"/api/items/{item['id']}")
    assert response.status_code == 200
    assert response.json() == item


async def test_get_item_not_found(api: httpx.AsyncClient) -> None:
    seller = await register(api)
    item = await create_item(api, seller)
    seller_id, item_id = item["id"].split("-")
    for missing in [f"{seller_id}-{int(item_id) + 100000}", f"{int(seller_id) + 100000}-{item_id}"]:
        response = await api.get(f"/api/items/{missing}")
        assert response.status_code == 404 and error_code(response) == "item_not_found"


@pytest.mark.parametrize("malformed", MALFORMED_IDS)
async def test_malformed_item_ids_are_404(api: httpx.AsyncClient, malformed: str) -> None:
    seller = await register(api)
    for method in ("GET", "PUT", "DELETE"):
        path = "/api/items/" + quote(malformed, safe="")
        response = await api.request(method, path, headers=seller.headers,
                                     json={"title": "x"} if method == "PUT" else None)
        assert response.status_code == 404, (method, response.text)
        assert error_code(response) == "item_not_found"


# --- PUT /api/items/:id -----------------------------------------------------------------


async def test_update_changes_only_the_given_fields(api: httpx.AsyncClient) -> None:
    seller = await register(api)
    item = await create_item(api, seller, title="Lamp", price="10.00", description="Brass")
    response = await api.put(f"/api/items/{item['id']}", json={"price": 9.5},
                             headers=seller.headers)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["price"] == "9.50"
    assert (updated["title"], updated["description"]) == ("Lamp", "Brass")
    assert updated["created_at"] == item["created_at"]
    assert updated["updated_at"] > item["updated_at"]
    both = await api.put(f"/api/items/{item['id']}", headers=seller.headers,
                         json={"title": "Desk lamp", "description": ""})
    assert both.status_code == 200
    assert (both.json()["title"], both.json()["description"], both.json()["price"]) == (
        "Desk lamp", "", "9.50")
    assert (await api.get(f"/api/items/{item['id']}")).json() == both.json()


@pytest.mark.parametrize("body", [
    {}, {"title": None}, {"price": None}, {"description": None}, {"title": ""},
    {"title": "t" * 201}, {"description": "d" * 5001}, {"price": "0.00"}, {"price": "1.001"},
    {"status": "sold"}, {"seller_id": 1}, {"id": "1-1"}, {"title": "ok", "buyer_id": 2},
])
async def test_update_refuses_bad_bodies(api: httpx.AsyncClient, body: dict) -> None:
    seller = await register(api)
    item = await create_item(api, seller)
    response = await api.put(f"/api/items/{item['id']}", json=body, headers=seller.headers)
    assert response.status_code == 400, response.text
    assert error_code(response) == "validation_error"
    assert (await api.get(f"/api/items/{item['id']}")).json() == item


async def test_update_by_another_user_is_403_and_changes_nothing(
    api: httpx.AsyncClient,
) -> None:
    seller, stranger = await register(api), await register(api)
    item = await create_item(api, seller)
    response = await api.put(f"/api/items/{item['id']}", json={"price": "0.01"},
                             headers=stranger.headers)
    assert response.status_code == 403 and error_code(response) == "not_owner"
    assert (await api.get(f"/api/items/{item['id']}")).json() == item


async def test_update_refusals(api: httpx.AsyncClient, rpc: RpcClient) -> None:
    seller, buyer = await register(api), await register(api)
    item = await create_item(api, seller)
    anonymous = await api.put(f"/api/items/{item['id']}", json={"price": "1.00"})
    assert anonymous.status_code == 401
    seller_id, item_id = item["id"].split("-")
    missing = await api.put(f"/api/items/{seller_id}-{int(item_id) + 100000}",
                            json={"price": "1.00"}, headers=seller.headers)
    assert missing.status_code == 404 and error_code(missing) == "item_not_found"
    stranger_missing = await api.put(f"/api/items/{seller_id}-{int(item_id) + 100000}",
                                     json={"price": "1.00"}, headers=buyer.headers)
    assert stranger_missing.status_code == 404
    invalid = await api.put(f"/api/items/{item['id']}", content=b"{", headers=seller.headers)
    assert invalid.status_code == 400 and error_code(invalid) == "invalid_json"

    await reserve(rpc, item, int(buyer.id))
    reserved = await api.put(f"/api/items/{item['id']}", json={"price": "1.00"},
                             headers=seller.headers)
    assert reserved.status_code == 409 and error_code(reserved) == "item_not_editable"
    sold_item = await create_item(api, seller)
    await sell(rpc, sold_item, int(buyer.id))
    sold = await api.put(f"/api/items/{sold_item['id']}", json={"title": "New"},
                         headers=seller.headers)
    assert sold.status_code == 409 and error_code(sold) == "item_not_editable"
    # the buyer is not the owner either
    by_buyer = await api.put(f"/api/items/{sold_item['id']}", json={"title": "Mine"},
                             headers=buyer.headers)
    assert by_buyer.status_code == 403
    after = (await api.get(f"/api/items/{sold_item['id']}")).json()
    assert (after["title"], after["status"]) == (sold_item["title"], "sold")


# --- DELETE /api/items/:id --------------------------------------------------------------


async def test_delete_withdraws_the_item_for_good(api: httpx.AsyncClient) -> None:
    seller = await register(api)
    item = await create_item(api, seller)
    response = await api.delete(f"/api/items/{item['id']}", headers=seller.headers)
    assert response.status_code == 204 and response.content == b""
    gone = await api.get(f"/api/items/{item['id']}")
    assert gone.status_code == 404 and error_code(gone) == "item_not_found"
    again = await api.delete(f"/api/items/{item['id']}", headers=seller.headers)
    assert again.status_code == 404 and error_code(again) == "item_not_found"
    assert (await api.get(f"/api/items/user/{seller.id}")).json()["items"] == []


async def test_delete_refusals(api: httpx.AsyncClient, rpc: RpcClient) -> None:
    seller, stranger = await register(api), await register(api)
    item = await create_item(api, seller)
    anonymous = await api.delete(f"/api/items/{item['id']}")
    assert anonymous.status_code == 401 and error_code(anonymous) == "unauthorized"
    not_owner = await api.delete(f"/api/items/{item['id']}", headers=stranger.headers)
    assert not_owner.status_code == 403 and error_code(not_owner) == "not_owner"
    assert (await api.get(f"/api/items/{item['id']}")).json() == item
    seller_id, item_id = item["id"].split("-")
    missing = await api.delete(f"/api/items/{seller_id}-{int(item_id) + 100000}",
                               headers=seller.headers)
    assert missing.status_code == 404 and error_code(missing) == "item_not_found"

    await reserve(rpc, item, int(stranger.id))
    reserved = await api.delete(f"/api/items/{item['id']}", headers=seller.headers)
    assert reserved.status_code == 409 and error_code(reserved) == "item_not_editable"
    sold_item = await create_item(api, seller)
    await sell(rpc, sold_item, int(stranger.id))
    sold = await api.delete(f"/api/items/{sold_item['id']}", headers=seller.headers)
    assert sold.status_code == 409 and error_code(sold) == "item_not_editable"
    for still_there in (item, sold_item):
        assert (await api.get(f"/api/items/{still_there['id']}")).status_code == 200


# --- events -----------------------------------------------------------------------------


async def test_changes_are_announced_through_the_outbox(
    api: httpx.AsyncClient, db: asyncpg.Connection, rpc: RpcClient
) -> None:
    seller, buyer = await register(api), await register(api)
    item = await create_item(api, seller)
    await api.put(f"/api/items/{item['id']}", json={"title": "Renamed"}, headers=seller.headers)
    purchase_id = await sell(rpc, item, int(buyer.id))
    withdrawn = await create_item(api, seller)
    await api.delete(f"/api/items/{withdrawn['id']}", headers=seller.headers)

    async def published() -> list[Any]:
        return await db.fetch(
            "SELECT type, body, published_at FROM products_outbox WHERE key = $1 ORDER BY id",
            int(seller.id),
        )

    rows = await published()
    for _ in range(50):
        if all(row["published_at"] is not None for row in rows):
            break
        await asyncio.sleep(0.1)
        rows = await published()
    assert [row["type"] for row in rows] == [
        "item.listed", "item.updated", "item.sold", "item.listed", "item.deleted"
    ]
    assert all(row["published_at"] is not None for row in rows)
    sold = next(json.loads(row["body"]) for row in rows
                if row["type"] == "item.sold")
    assert sold["item_id"] == item["id"] and sold["buyer_id"] == int(buyer.id)
    assert sold["purchase_id"] == str(purchase_id) and sold["price_cents"] == 1250
    assert sold["version"] == 1 and sold["event_id"]


# --- documentation and health ---------------------------------------------------------


async def test_the_items_routes_are_documented(api: httpx.AsyncClient, stack: Stack) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    assert set(paths["/api/items"]) == {"get", "post"}
    assert set(paths["/api/items/{id}"]) == {"get", "put", "delete"}
    search = paths["/api/items/search/{query}"]["get"]
    assert "stemming" in search["description"]
    assert {"403", "404", "409"} <= set(paths["/api/items/{id}"]["put"]["responses"])
    assert "204" in paths["/api/items/{id}"]["delete"]["responses"]
    assert "404" in paths["/api/items/user/{userId}"]["get"]["responses"]
    health = await api.get(f"http://127.0.0.1:{stack['products'].port}/health")
    assert health.status_code == 200
    assert health.json()["checks"] == {"database": "ok", "broker": "ok"}
