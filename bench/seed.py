"""Seed the bench database directly with COPY: users with balances, their deposits in
the ledger, and items for sale — not through the API, in seconds.

Every user has the same password; its bcrypt hash (at the production cost, 12) is
computed once and reused for every row. Each user's opening balance is recorded as a
deposit in the ledger, so the project's own invariant (sum of balances = sum of
deposits) holds from the start.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import bcrypt


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


ADJECTIVES = _words(
    "vintage antique modern rustic handmade classic compact portable wooden leather "
    "brass copper ceramic woolen silver golden velvet marble linen bamboo electric "
    "acoustic folding retro minimalist sturdy elegant tiny giant glass cotton"
)
NOUNS = _words(
    "lamp chair table guitar camera bicycle clock mirror teapot kettle backpack jacket "
    "radio typewriter telescope violin desk sofa rug vase bookshelf lantern notebook "
    "watch compass skillet blender drone keyboard speaker"
)
PLACES = _words("Lisbon Oslo Kyoto Lima Dakar Quebec Hanoi Porto Tallinn Cusco")
CONDITIONS = _words("mint excellent good fair restored refurbished unused")

OPENING_BALANCE_CENTS = 1_000_000  # 10,000.00: every buyer can afford every purchase
PRICE_RANGE_CENTS = (100, 10_000)  # 1.00 to 100.00


@dataclass(frozen=True)
class SeededItem:
    seller_id: int
    item_id: int
    price_cents: int

    @property
    def public_id(self) -> str:
        return f"{self.seller_id}-{self.item_id}"


@dataclass(frozen=True)
class Seeded:
    user_ids: list[int]
    items: list[SeededItem]
    total_balance_cents: int
    seconds: dict[str, float]

    def username(self, user_id: int) -> str:
        return username_of(user_id)


def username_of(user_id: int) -> str:
    return f"bench_u{user_id}"


def search_terms() -> list[str]:
    """Queries that match seeded items: an adjective and a noun (~1 title in 900)."""
    return [f"{adjective} {noun}" for adjective in ADJECTIVES for noun in NOUNS]


async def seed(url: str, users: int, items: int, password: str, rng: random.Random) -> Seeded:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    password_hash = bcrypt.hashpw(password.encode(), bcrypt.gensalt(12)).decode()
    seconds["bcrypt_once"] = time.perf_counter() - started

    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        user_ids = list(range(1, users + 1))
        await _copy_users(conn, user_ids, password_hash)
        seconds["users"] = time.perf_counter() - started

        started = time.perf_counter()
        seeded_items = await _copy_items(url, user_ids, items, rng)
        seconds["items"] = time.perf_counter() - started

        started = time.perf_counter()
        for table in ("users", "items", "ledger"):
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                f" (SELECT max(id) FROM {table}))"
            )
        await conn.execute("VACUUM ANALYZE")
        seconds["analyze"] = time.perf_counter() - started
    finally:
        await conn.close()
    return Seeded(user_ids, seeded_items, OPENING_BALANCE_CENTS * users, seconds)


async def _copy_users(conn: asyncpg.Connection, user_ids: list[int], password_hash: str) -> None:
    now = datetime.now(UTC)
    async with conn.transaction():
        await conn.copy_records_to_table(
            "users",
            columns=["id", "username", "email", "password_hash", "balance", "register_id",
                     "created_at"],
            records=(
                (uid, username_of(uid), f"{username_of(uid)}@bench.example", password_hash,
                 OPENING_BALANCE_CENTS, uuid.uuid4(), now)
                for uid in user_ids
            ),
        )
        await conn.copy_records_to_table(
            "usernames", columns=["username", "user_id"],
            records=((username_of(uid), uid) for uid in user_ids),
        )
        await conn.copy_records_to_table(
            "user_emails", columns=["email", "user_id"],
            records=((f"{username_of(uid)}@bench.example", uid) for uid in user_ids),
        )
        await conn.copy_records_to_table(
            "ledger", columns=["user_id", "kind", "ref", "amount", "balance_after"],
            records=(
                (uid, "deposit", uuid.uuid4(), OPENING_BALANCE_CENTS, OPENING_BALANCE_CENTS)
                for uid in user_ids
            ),
        )


async def _copy_items(
    url: str, user_ids: list[int], count: int, rng: random.Random
) -> list[SeededItem]:
    """`count` available items, sellers spread evenly over the users, newest last."""
    newest = datetime.now(UTC)
    seeded: list[SeededItem] = []
    records = []
    for item_id in range(1, count + 1):
        seller_id = user_ids[(item_id - 1) % len(user_ids)]
        price = rng.randint(*PRICE_RANGE_CENTS)
        adjective, noun = rng.choice(ADJECTIVES), rng.choice(NOUNS)
        created = newest - timedelta(milliseconds=10 * (count - item_id))
        description = (
            f"A {rng.choice(CONDITIONS)} {adjective} {noun} from {rng.choice(PLACES)},"
            f" {rng.choice(ADJECTIVES)} finish. Lot {item_id}."
        )
        records.append((
            seller_id, item_id, uuid.uuid4(), f"{adjective.capitalize()} {noun}", description,
            price, "available", created, created,
        ))
        seeded.append(SeededItem(seller_id, item_id, price))
    # the tsvector and the GIN index make items the slow table: two COPYs in parallel
    half = len(records) // 2
    await asyncio.gather(
        _copy_items_part(url, records[:half]), _copy_items_part(url, records[half:])
    )
    return seeded


async def _copy_items_part(url: str, records: list[tuple]) -> None:
    # GIN inserts go to the pending list; a big one, flushed with ample memory, is faster
    conn = await asyncpg.connect(
        url, server_settings={"gin_pending_list_limit": "65536", "work_mem": "262144"}
    )
    try:
        await conn.copy_records_to_table(
            "items",
            columns=["seller_id", "id", "listing_id", "title", "description", "price",
                     "status", "created_at", "updated_at"],
            records=records,
        )
    finally:
        await conn.close()
