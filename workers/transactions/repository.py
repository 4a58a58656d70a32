"""The transactions service's SQL. Every statement on a distributed table filters on its
distribution column by equality (`citus.md`, rule 3): purchases by buyer_id,
transactions by seller_id; the one exception is the sweeper's scan, marked `fan-out`."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import asyncpg

PURCHASE_COLUMNS = (
    "buyer_id, id, purchase_id, state, seller_id, item_id, amount, error_code, error_message,"
    " transaction_id, completed_at, attempt, due_at, reply_to, correlation_id, request_id,"
    " created_at, updated_at"
)
SALE_COLUMNS = "seller_id, id, purchase_id, buyer_id, item_id, amount, created_at"

FIRST_PAGE = (datetime.max.replace(tzinfo=UTC), 0)
"""The position before the newest row: every (created_at, id) is below it."""


async def insert_purchase(
    conn: asyncpg.Connection,
    buyer_id: int,
    purchase_id: UUID,
    seller_id: int,
    item_id: int,
    due_in: float,
    waiter: tuple[str | None, str | None, str | None],
) -> asyncpg.Record | None:
    """A new PENDING saga, or None when this purchase id exists for this buyer already.
    `waiter` is (reply_to, correlation_id, request_id) of the command to answer at the end."""
    return await conn.fetchrow(
        f"INSERT INTO purchases (buyer_id, purchase_id, state, seller_id, item_id, due_at,"
        f" reply_to, correlation_id, request_id)"
        f" VALUES ($1, $2, 'PENDING', $3, $4, now() + make_interval(secs => $5), $6, $7, $8)"
        f" ON CONFLICT (buyer_id, purchase_id) DO NOTHING RETURNING {PURCHASE_COLUMNS}",
        buyer_id, purchase_id, seller_id, item_id, due_in, *waiter,
    )


async def get_purchase(
    conn: asyncpg.Connection, buyer_id: int, purchase_id: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {PURCHASE_COLUMNS} FROM purchases WHERE buyer_id = $1 AND purchase_id = $2",
        buyer_id, purchase_id,
    )


async def lock_purchase(
    conn: asyncpg.Connection, buyer_id: int, purchase_id: UUID
) -> asyncpg.Record | None:
    """The saga's row, locked until the transaction ends: one transition at a time, even
    with several workers applying replies to the same purchase."""
    return await conn.fetchrow(
        f"SELECT {PURCHASE_COLUMNS} FROM purchases WHERE buyer_id = $1 AND purchase_id = $2"
        f" FOR UPDATE",
        buyer_id, purchase_id,
    )


async def save_transition(
    conn: asyncpg.Connection,
    buyer_id: int,
    row_id: int,
    expected_state: str,
    state: str,
    amount: int | None,
    error: tuple[str | None, str | None],
    due_in: float,
    sale: tuple[int, datetime] | None = None,
) -> bool:
    """The saga's new state, if it is still in `expected_state` (compare-and-set: two
    workers applying replies to one saga never both win); the new step gets a fresh
    timeout. False when the row moved on since it was read."""
    transaction_id, completed_at = sale if sale else (None, None)
    status = await conn.execute(
        "UPDATE purchases SET state = $4, amount = $5, error_code = $6, error_message = $7,"
        " attempt = 0, due_at = now() + make_interval(secs => $8), updated_at = now(),"
        " transaction_id = $9, completed_at = $10"
        " WHERE buyer_id = $1 AND id = $2 AND state = $3",
        buyer_id, row_id, expected_state, state, amount, *error, due_in, transaction_id,
        completed_at,
    )
    return status == "UPDATE 1"


async def set_waiter(
    conn: asyncpg.Connection,
    buyer_id: int,
    row_id: int,
    waiter: tuple[str | None, str | None, str | None],
) -> None:
    """Answer the latest PurchaseItem of a running saga (a client retrying its request)."""
    await conn.execute(
        "UPDATE purchases SET reply_to = $3, correlation_id = $4, request_id = $5"
        " WHERE buyer_id = $1 AND id = $2",
        buyer_id, row_id, *waiter,
    )


async def due_purchases(conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Running sagas whose step's reply is overdue, oldest first."""
    return await conn.fetch(
        # fan-out: the sweeper looks at every buyer's shard (a small partial index);
        # each saga found is then locked and updated by its (buyer_id, purchase_id)
        "SELECT buyer_id, purchase_id FROM purchases"
        " WHERE state NOT IN ('COMPLETED', 'FAILED') AND due_at <= now()"
        " ORDER BY due_at LIMIT $1",
        limit,
    )


async def postpone(
    conn: asyncpg.Connection,
    buyer_id: int,
    row_id: int,
    state: str,
    attempt: int,
    due_in: float,
) -> bool:
    """Claim the resend of an overdue step: count it and wait for its reply again. False
    when the saga moved on or another sweeper claimed it first (compare-and-set)."""
    claimed = await conn.fetchval(
        "UPDATE purchases SET attempt = attempt + 1,"
        " due_at = now() + make_interval(secs => $5), updated_at = now()"
        " WHERE buyer_id = $1 AND id = $2 AND state = $3 AND attempt = $4 AND due_at <= now()"
        " RETURNING attempt",
        buyer_id, row_id, state, attempt, due_in,
    )
    return claimed is not None


async def record_sale(
    conn: asyncpg.Connection,
    seller_id: int,
    purchase_id: UUID,
    buyer_id: int,
    item_id: int,
    amount: int,
) -> asyncpg.Record:
    """The sale of this purchase (unique per purchase): inserted once, found afterwards."""
    row = await conn.fetchrow(
        f"INSERT INTO transactions (seller_id, purchase_id, buyer_id, item_id, amount)"
        f" VALUES ($1, $2, $3, $4, $5)"
        f" ON CONFLICT (seller_id, purchase_id) DO NOTHING RETURNING {SALE_COLUMNS}",
        seller_id, purchase_id, buyer_id, item_id, amount,
    )
    if row is None:
        row = await conn.fetchrow(
            f"SELECT {SALE_COLUMNS} FROM transactions WHERE seller_id = $1 AND purchase_id = $2",
            seller_id, purchase_id,
        )
    return row


async def completed_purchases(
    conn: asyncpg.Connection, buyer_id: int, after: tuple[datetime, int], limit: int
) -> list[asyncpg.Record]:
    """A buyer's completed purchases, newest first, strictly after the keyset `after`."""
    return await conn.fetch(
        f"SELECT {PURCHASE_COLUMNS} FROM purchases"
        f" WHERE buyer_id = $1 AND state = 'COMPLETED' AND (completed_at, id) < ($2, $3)"
        f" ORDER BY completed_at DESC, id DESC LIMIT $4",
        buyer_id, *after, limit,
    )


async def sales(
    conn: asyncpg.Connection, seller_id: int, after: tuple[datetime, int], limit: int
) -> list[asyncpg.Record]:
    """A seller's sales, newest first, strictly after the keyset `after`."""
    return await conn.fetch(
        f"SELECT {SALE_COLUMNS} FROM transactions"
        f" WHERE seller_id = $1 AND (created_at, id) < ($2, $3)"
        f" ORDER BY created_at DESC, id DESC LIMIT $4",
        seller_id, *after, limit,
    )
