"""What wrk sends: files of pre-built requests, one a line, read by `lua/requests.lua`.

Each line is "METHOD<TAB>PATH<TAB>TOKEN<TAB>BODY" ("-" for none). Every request of a
scenario goes to a distinct item or user: reads walk the items in a random order,
deposits and logins walk the users, and each purchase buys an item nobody has bought
with a buyer who is not its seller and can afford it. Items bought by one run are
never offered to another (`ItemPool`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import quote

import orjson

from api_gateway.auth import TokenService
from bench.seed import SeededItem, search_terms, username_of

NO = "-"
TOKEN_TTL_SECONDS = 7 * 24 * 3600


def request_line(method: str, path: str, token: str = NO, body: bytes | None = None) -> str:
    return "\t".join((method, path, token, body.decode() if body is not None else NO))


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    with path.open("w") as out:
        count = 0
        for line in lines:
            out.write(line)
            out.write("\n")
            count += 1
    if count == 0:
        raise ValueError(f"no requests for {path.name}")
    return path


def issue_tokens(secret: str, user_ids: Sequence[int]) -> dict[int, str]:
    """A token per user, signed with the gateway's secret (the bench chose it)."""
    tokens = TokenService(secret, TOKEN_TTL_SECONDS)
    return {user_id: tokens.issue(user_id) for user_id in user_ids}


class ItemPool:
    """Seeded items in a random order, each paired with a buyer, handed out in disjoint
    slices: an item is offered to one purchase run only."""

    def __init__(self, items: Sequence[SeededItem], user_ids: Sequence[int], rng: random.Random):
        self._items = list(items)
        rng.shuffle(self._items)
        users = len(user_ids)
        position = {user_id: index for index, user_id in enumerate(user_ids)}
        # anyone but the seller: every seeded balance covers every price many times over
        self._buyers = [
            user_ids[(position[item.seller_id] + rng.randrange(1, users)) % users]
            for item in self._items
        ]
        self._next = 0

    @property
    def remaining(self) -> int:
        return len(self._items) - self._next

    def take(self, count: int) -> list[tuple[SeededItem, int]]:
        count = max(0, min(count, self.remaining))
        start, self._next = self._next, self._next + count
        return list(zip(self._items[start:self._next], self._buyers[start:self._next],
                        strict=True))


def purchase_lines(bought: Sequence[tuple[SeededItem, int]], tokens: dict[int, str]) -> list[str]:
    return [
        request_line("POST", f"/api/transactions/purchase/{item.public_id}", tokens[buyer])
        for item, buyer in bought
    ]


def item_read_lines(items: Sequence[SeededItem], rng: random.Random) -> list[str]:
    order = list(items)
    rng.shuffle(order)
    return [request_line("GET", f"/api/items/{item.public_id}") for item in order]


def feed_lines() -> list[str]:
    return [request_line("GET", "/api/items")]


def search_lines(rng: random.Random) -> list[str]:
    terms = search_terms()
    rng.shuffle(terms)
    return [request_line("GET", f"/api/items/search/{quote(term, safe='')}") for term in terms]


DEPOSIT_BODY = orjson.dumps({"amount": "1.00"})
DEPOSIT_CENTS = 100


def deposit_lines(user_ids: Sequence[int], tokens: dict[int, str], rng: random.Random) -> list[str]:
    order = list(user_ids)
    rng.shuffle(order)
    return [request_line("POST", "/api/users/deposit", tokens[uid], DEPOSIT_BODY) for uid in order]


def login_lines(user_ids: Sequence[int], password: str, rng: random.Random) -> list[str]:
    order = list(user_ids)
    rng.shuffle(order)
    return [
        request_line(
            "POST", "/api/auth/login", NO,
            orjson.dumps({"username": username_of(uid), "password": password}),
        )
        for uid in order
    ]


def ping_lines() -> list[str]:
    return [request_line("GET", "/ping")]
