"""The products service's SQL. Every statement on one item names its seller (`items` and
`products_outbox` are distributed by seller id, `citus.md` rule 3), so it runs on one
shard; only the feed and search span every seller, LIMITed and served by indexes.

Keyset pages start strictly after a position; the first page starts after +infinity
(asyncpg sends `datetime.max` as PostgreSQL's `infinity`, and `float("inf")` as such).
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

ITEM_COLUMNS = (
    "seller_id, id, title, description, price, status, reserved_by, buyer_id,"
    " created_at, updated_at"
)

FIRST_PAGE = (datetime.max.replace(tzinfo=UTC), 0)
"""The position before the newest item: every (created_at, id) is below it."""

FIRST_SEARCH_PAGE = (float("inf"), *FIRST_PAGE)
"""The position before the best hit: every (rank, created_at, id) is below it."""


async def insert_item(
    conn: asyncpg.Connection,
    seller_id: int,
    listing_id: UUID,
    title: str,
    description: str,
    price: int,
) -> asyncpg.Record | None:
    """The new item, or None when this listing id was already used by the seller."""
    return await conn.fetchrow(
        "INSERT INTO items (seller_id, listing_id, title, description, price)"
        " VALUES ($1, $2, $3, $4, $5)"
        " ON CONFLICT (seller_id, listing_id) DO NOTHING"
        f" RETURNING {ITEM_COLUMNS}",
        seller_id, listing_id, title, description, price,
    )


async def item_by_listing(
    conn: asyncpg.Connection, seller_id: int, listing_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ITEM_COLUMNS} FROM items WHERE seller_id = $1 AND listing_id = $2",
        seller_id, listing_id,
    )


async def get_item(conn: asyncpg.Connection, seller_id: int, item_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {ITEM_COLUMNS} FROM items WHERE seller_id = $1 AND id = $2",
        seller_id, item_id,
    )


async def update_available_item(
    conn: asyncpg.Connection,
    seller_id: int,
    item_id: int,
    title: str | None,
    description: str | None,
    price: int | None,
) -> asyncpg.Record | None:
    """Change the given fields of an available item; None when it is missing or not
    available (the caller reads the item to tell which)."""
    return await conn.fetchrow(
        "UPDATE items SET title = COALESCE($3, title),"
        " description = COALESCE($4, description), price = COALESCE($5, price),"
        " updated_at = now()"
        " WHERE seller_id = $1 AND id = $2 AND status = 'available'"
        f" RETURNING {ITEM_COLUMNS}",
        seller_id, item_id, title, description, price,
    )


async def delete_available_item(
    conn: asyncpg.Connection, seller_id: int, item_id: int
) -> asyncpg.Record | None:
    """Remove an available item for good; None when it is missing or not available."""
    return await conn.fetchrow(
        "DELETE FROM items WHERE seller_id = $1 AND id = $2 AND status = 'available'"
        f" RETURNING {ITEM_COLUMNS}",
        seller_id, item_id,
    )


# --- the purchase saga's steps: conditional updates keyed by the purchase ------------


async def reserve(
    conn: asyncpg.Connection, seller_id: int, item_id: int, purchase_id: UUID, buyer_id: int
) -> asyncpg.Record | None:
    """available -> reserved by `purchase_id`; None when that did not happen."""
    return await conn.fetchrow(
        "UPDATE items SET status = 'reserved', reserved_by = $3, buyer_id = $4,"
        " updated_at = now()"
        " WHERE seller_id = $1 AND id = $2 AND status = 'available' AND seller_id <> $4"
        f" RETURNING {ITEM_COLUMNS}",
        seller_id, item_id, purchase_id, buyer_id,
    )


async def release(
    conn: asyncpg.Connection, seller_id: int, item_id: int, purchase_id: UUID
) -> asyncpg.Record | None:
    """reserved by `purchase_id` -> available; None when it was not reserved by it."""
    return await conn.fetchrow(
        "UPDATE items SET status = 'available', reserved_by = NULL, buyer_id = NULL,"
        " updated_at = now()"
        " WHERE seller_id = $1 AND id = $2 AND status = 'reserved' AND reserved_by = $3"
        f" RETURNING {ITEM_COLUMNS}",
        seller_id, item_id, purchase_id,
    )


async def mark_sold(
    conn: asyncpg.Connection, seller_id: int, item_id: int, purchase_id: UUID, buyer_id: int
) -> asyncpg.Record | None:
    """reserved by `purchase_id` -> sold to `buyer_id`; None when it was not reserved by it."""
    return await conn.fetchrow(
        "UPDATE items SET status = 'sold', buyer_id = $4, sold_at = now(), updated_at = now()"
        " WHERE seller_id = $1 AND id = $2 AND status = 'reserved' AND reserved_by = $3"
        f" RETURNING {ITEM_COLUMNS}",
        seller_id, item_id, purchase_id, buyer_id,
    )


# --- pages, newest first: keyset on (created_at, id) -------------------------------


async def seller_items(
    conn: asyncpg.Connection, seller_id: int, after: tuple[datetime, int], limit: int
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {ITEM_COLUMNS} FROM items"
        " WHERE seller_id = $1 AND (created_at, id) < ($2, $3)"
        " ORDER BY created_at DESC, id DESC LIMIT $4",
        seller_id, *after, limit,
    )


async def feed_by_status(
    conn: asyncpg.Connection, status: str, after: tuple[datetime, int], limit: int
) -> list[asyncpg.Record]:
    # fan-out: the feed spans every seller (index items_feed_by_status)
    return await conn.fetch(
        f"SELECT {ITEM_COLUMNS} FROM items"
        " WHERE status = $1 AND (created_at, id) < ($2, $3)"
        " ORDER BY created_at DESC, id DESC LIMIT $4",
        status, *after, limit,
    )


async def feed_all(
    conn: asyncpg.Connection, after: tuple[datetime, int], limit: int
) -> list[asyncpg.Record]:
    # fan-out: the feed of every status spans every seller (index items_feed)
    return await conn.fetch(
        f"SELECT {ITEM_COLUMNS} FROM items"
        " WHERE (created_at, id) < ($1, $2)"
        " ORDER BY created_at DESC, id DESC LIMIT $3",
        *after, limit,
    )


async def search(
    conn: asyncpg.Connection, query: str, after: tuple[float, datetime, int], limit: int
) -> list[asyncpg.Record]:
    """Available items matching `query`, best first: keyset on (rank, created_at, id).

    websearch_to_tsquery never raises on any text; a query without lexemes (stop words,
    punctuation) matches nothing. Each shard ranks and limits; the coordinator merges.
    """
    # fan-out: search spans every seller (GIN index items_search)
    return await conn.fetch(
        f"SELECT {ITEM_COLUMNS}, ts_rank(search, websearch_to_tsquery('english', $1)) AS rank"
        " FROM items"
        " WHERE status = 'available' AND search @@ websearch_to_tsquery('english', $1)"
        " AND (ts_rank(search, websearch_to_tsquery('english', $1)), created_at, id)"
        " < ($2::real, $3, $4)"
        " ORDER BY rank DESC, created_at DESC, id DESC LIMIT $5",
        query, *after, limit,
    )
