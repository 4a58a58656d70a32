"""The lists of items through the gateway: the feed and its status filter, a user's
items, search (ranking, stemming, hostile queries), and keyset pagination that returns
every item exactly once, even while new items are listed between pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from broker.rpc import RpcClient
from tests.support.items import create_item, reserve, rpc_client, sell, unique_word, walk
from tests.support.users import register


@pytest.fixture
async def rpc(amqp_url: str) -> AsyncIterator[RpcClient]:
    async with rpc_client(amqp_url) as client:
        yield client


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def moment(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(item["created_at"])


async def search(api: httpx.AsyncClient, query: str, **params: str) -> httpx.Response:
    return await api.get("/api/items/search/" + quote(query, safe=""), params=params)


# --- GET /api/items ------------------------------------------------------------------


async def test_feed_is_newest_first_and_filters_by_status(
    api: httpx.AsyncClient, rpc: RpcClient
) -> None:
    seller, buyer = await register(api), await register(api)
    available = await create_item(api, seller, title="first")
    reserved = await create_item(api, seller, title="second")
    sold = await create_item(api, seller, title="third")
    newest = await create_item(api, seller, title="fourth")
    await reserve(rpc, reserved, int(buyer.id))
    await sell(rpc, sold, int(buyer.id))
    mine = set(ids([available, reserved, sold, newest]))

    async def feed(**params: str) -> list[dict[str, Any]]:
        response = await api.get("/api/items", params={"limit": "100", **params})
        assert response.status_code == 200, response.text
        assert set(response.json()) == {"items", "next_cursor"}
        return [item for item in response.json()["items"] if item["id"] in mine]

    assert ids(await feed()) == [newest["id"], available["id"]]
    assert ids(await feed(status="available")) == [newest["id"], available["id"]]
    assert ids(await feed(status="sold")) == [sold["id"]]
    every = await feed(status="all")
    assert ids(every) == [newest["id"], sold["id"], reserved["id"], available["id"]]
    assert [item["status"] for item in every] == ["available", "sold", "reserved", "available"]
    default_page = (await api.get("/api/items")).json()
    assert len(default_page["items"]) <= 20


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "101"}, {"limit": "-1"}, {"limit": "abc"}, {"limit": "1.5"},
    {"limit": ""}, {"limit": "99999999999999999999"}, {"limit": "5\n"}, {"status": "reserved"},
    {"status": "bogus"}, {"status": ""}, {"cursor": "not a cursor"}, {"cursor": ""},
    {"cursor": "e30"},  # base64 of {}
    {"cursor": "eyJjcmVhdGVkX2F0IjoxfQ"},  # {"created_at":1}
    {"cursor": "eyJjcmVhdGVkX2F0IjoiMjAyNi0wMS0wMVQwMDowMDowMFoiLCJpdGVtX2lkIjotMX0"},  # id -1
    {"cursor": "x" * 600}, {"cursor": "////"}, {"cursor": "é"},
])
async def test_feed_refuses_bad_parameters(api: httpx.AsyncClient, params: dict) -> None:
    response = await api.get("/api/items", params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "validation_error"


async def test_feed_pages_return_every_item_once_while_items_are_listed(
    api: httpx.AsyncClient,
) -> None:
    seller = await register(api)
    originals = [await create_item(api, seller, title=f"page item {n}") for n in range(15)]
    oldest = moment(originals[0])
    listed_meanwhile: list[dict[str, Any]] = []

    async def list_another() -> None:
        listed_meanwhile.append(await create_item(api, seller, title="listed meanwhile"))

    for status in ("available", "all"):
        seen = await walk_until(api, "/api/items", 4, {"status": status}, oldest, list_another)
        assert len(ids(seen)) == len(set(ids(seen))), "an item was repeated"
        assert set(ids(originals)) <= set(ids(seen)), "an item was missed"
        newest_first = [moment(item) for item in seen]
        assert newest_first == sorted(newest_first, reverse=True)
    assert listed_meanwhile


async def walk_until(
    api: httpx.AsyncClient, path: str, limit: int, params: dict[str, str], oldest: datetime,
    between_pages: Any,
) -> list[dict[str, Any]]:
    """The feed page by page until it passes `oldest` (older items are not the test's)."""
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {"limit": str(limit), **params, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(path, params=query)).json()
        assert len(page["items"]) <= limit
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None or moment(seen[-1]) < oldest:
            return seen
        await between_pages()


# --- GET /api/items/user/:userId --------------------------------------------------------


async def test_user_items_lists_every_status_newest_first(
    api: httpx.AsyncClient, rpc: RpcClient
) -> None:
    seller, buyer, idle = await register(api), await register(api), await register(api)
    a = await create_item(api, seller, title="a")
    b = await create_item(api, seller, title="b")
    c = await create_item(api, seller, title="c")
    await reserve(rpc, b, int(buyer.id))
    await sell(rpc, c, int(buyer.id))
    await create_item(api, buyer, title="the buyer's own")
    response = await api.get(f"/api/items/user/{seller.id}")
    assert response.status_code == 200
    page = response.json()
    assert ids(page["items"]) == [c["id"], b["id"], a["id"]]
    assert [item["status"] for item in page["items"]] == ["sold", "reserved", "available"]
    assert page["next_cursor"] is None
    empty = await api.get(f"/api/items/user/{idle.id}")
    assert empty.status_code == 200 and empty.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("user_id", [
    "9223372036854775807", "99999999999999999999", "abc", "0", "-1", "1.5", "01", "%20",
])
async def test_user_items_of_an_unknown_user_is_404(api: httpx.AsyncClient, user_id: str) -> None:
    response = await api.get(f"/api/items/user/{user_id}")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "user_not_found"


async def test_user_items_pages_return_every_item_once_while_items_are_listed(
    api: httpx.AsyncClient,
) -> None:
    seller = await register(api)
    originals = [await create_item(api, seller, title=f"mine {n}") for n in range(17)]

    async def list_another() -> None:
        await create_item(api, seller, title="listed meanwhile")

    seen = await walk(api, f"/api/items/user/{seller.id}", 5, between_pages=list_another)
    assert len(ids(seen)) == len(set(ids(seen)))
    assert ids(seen) == ids(reversed(originals))
    bad_limit = await api.get(f"/api/items/user/{seller.id}", params={"limit": "101"})
    assert bad_limit.status_code == 400
    bad_cursor = await api.get(f"/api/items/user/{seller.id}", params={"cursor": "zz"})
    assert bad_cursor.status_code == 400


# --- GET /api/items/search/:query -------------------------------------------------------


async def test_search_ranks_title_matches_first_and_stems(
    api: httpx.AsyncClient, rpc: RpcClient
) -> None:
    seller, buyer = await register(api), await register(api)
    word = unique_word()
    in_title = await create_item(api, seller, title=f"{word} lamp", description="brass")
    in_description = await create_item(api, seller, title="Desk lamp",
                                       description=f"A fine {word} from the fifties")
    stemmed = await create_item(api, seller, title=f"Running shoes {word}", description="")
    reserved = await create_item(api, seller, title=f"{word} reserved")
    sold = await create_item(api, seller, title=f"{word} sold")
    await reserve(rpc, reserved, int(buyer.id))
    await sell(rpc, sold, int(buyer.id))

    response = await search(api, word)
    assert response.status_code == 200
    found = ids(response.json()["items"])
    assert set(found) == {in_title["id"], in_description["id"], stemmed["id"]}
    assert found[-1] == in_description["id"], "a title match must rank above a description match"
    assert ids((await search(api, f"run {word}")).json()["items"]) == [stemmed["id"]]
    assert ids((await search(api, f"runs {word}")).json()["items"]) == [stemmed["id"]]
    assert ids((await search(api, f"{word.upper()} LAMPS")).json()["items"])[0] == in_title["id"]
    assert ids((await search(api, f'"{word} lamp"')).json()["items"]) == [in_title["id"]]
    assert in_title["id"] not in ids((await search(api, f"{word} -lamp")).json()["items"])


async def test_search_pages_return_every_hit_once_best_first(api: httpx.AsyncClient) -> None:
    seller = await register(api)
    word = unique_word()
    titles = [await create_item(api, seller, title=f"{word} {n}") for n in range(6)]
    descriptions = [await create_item(api, seller, title=f"item {n}", description=word)
                    for n in range(6)]

    async def list_another() -> None:
        await create_item(api, seller, title=f"{word} listed meanwhile")

    seen = await walk(api, "/api/items/search/" + word, 5, between_pages=list_another)
    assert len(ids(seen)) == len(set(ids(seen)))
    originals = ids(titles) + ids(descriptions)
    hits = [item_id for item_id in ids(seen) if item_id in originals]
    assert sorted(hits) == sorted(originals)
    assert set(hits[:6]) == set(ids(titles)), "title matches come first"


HOSTILE_QUERIES = [
    "'", '"', "''", '"unterminated', "&|!():*", "a & b | !c", "(((", ")))", "!!!", "*:*",
    "lamp:*", "lamp:A", "' OR 1=1 --", "'; DROP TABLE items; --", "1; SELECT pg_sleep(5)",
    "$1", "\\", "\\\\'", "%", "_", "%_%", "<script>alert(1)</script>", "{\"a\": 1}",
    "café ☕ 日本語", "🔥🔥🔥", "مرحبا", "\u200b", "\u202e", "\ufeff", "\t\n\r", " ", "-",
    "- -", "--", "or", "-lamp", "a/b", "../..", "?", "#", "&", "+", "a" * 200, "the",
    "the and of to a", "<->", "lamp <-> shade", "lamp <2> shade", "!lamp", "\x7f", "\x01",
]


@pytest.mark.parametrize("query", HOSTILE_QUERIES)
async def test_any_query_is_safe(api: httpx.AsyncClient, query: str) -> None:
    response = await search(api, query)
    assert response.status_code in (200, 400), response.text
    if response.status_code == 200:
        assert set(response.json()) == {"items", "next_cursor"}


@pytest.mark.parametrize("query", ["the", "the and of", "!!!", " ", "-", "'", "()", "a"])
async def test_a_query_without_searchable_words_finds_nothing(
    api: httpx.AsyncClient, query: str
) -> None:
    response = await search(api, query)
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("raw_path", [
    "/api/items/search/%00", "/api/items/search/a%00b", "/api/items/search/" + "a" * 201,
    "/api/items/search/", "/api/items/search/%ED%A0%80", "/api/items/search/%FF%FE",
])
async def test_bad_queries_are_400_never_500(api: httpx.AsyncClient, raw_path: str) -> None:
    response = await api.get(raw_path)
    assert response.status_code in (200, 400), response.text
    if "%00" in raw_path or "a" * 201 in raw_path or raw_path.endswith("/"):
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "validation_error"


async def test_search_refuses_bad_page_parameters(api: httpx.AsyncClient) -> None:
    feed_cursor = "eyJjcmVhdGVkX2F0IjoiMjAyNi0wMS0wMVQwMDowMDowMFoiLCJpdGVtX2lkIjoxfQ"
    for params in ({"limit": "0"}, {"limit": "101"}, {"cursor": "nope"},
                   {"cursor": feed_cursor}):
        response = await search(api, "lamp", **params)
        assert response.status_code == 400, (params, response.text)
