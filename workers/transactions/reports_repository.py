"""The reports read model's SQL (tables in `sql/0004_reports.sql`).

Hot path: every statement names `user_id` by equality, so on Citus it runs on that
user's shard (`citus.md`, rule 3). The rebuild statements at the bottom are the
operator's replay (`itemx replay reports`): fan-out by nature, never on a request path.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Literal
from uuid import UUID

import asyncpg

Role = Literal["buyer", "seller"]
BUYER: Role = "buyer"
SELLER: Role = "seller"

Entry = tuple[int, UUID, Role, date, int]
"""One user's share of one event: (user_id, event_id, role, day, amount_cents)."""


async def apply_entry(conn: asyncpg.Connection, entry: Entry) -> bool:
    """Record the entry in the user's inbox and add it to the user's day, in ONE
    statement (atomic on its own, or part of the caller's transaction); False (and
    nothing changed) when this event was already applied."""
    user_id, event_id, role, day, amount = entry
    bought = role == BUYER
    applied = await conn.fetchval(
        """
        WITH fresh AS (
            INSERT INTO reports_inbox (user_id, event_id, role, day, amount_cents)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (user_id, event_id, role) DO NOTHING
            RETURNING user_id, day
        )
        INSERT INTO report_days AS d
            (user_id, day, purchases_count, purchases_total, sales_count, sales_total)
        SELECT user_id, day, $6, $7, $8, $9 FROM fresh
        ON CONFLICT (user_id, day) DO UPDATE SET
            purchases_count = d.purchases_count + EXCLUDED.purchases_count,
            purchases_total = d.purchases_total + EXCLUDED.purchases_total,
            sales_count = d.sales_count + EXCLUDED.sales_count,
            sales_total = d.sales_total + EXCLUDED.sales_total
        RETURNING true
        """,
        user_id, event_id, role, day, amount,
        int(bought), amount if bought else 0, int(not bought), 0 if bought else amount,
    )
    return bool(applied)


async def report_days(
    conn: asyncpg.Connection, user_id: int, date_from: date | None, date_to: date | None
) -> list[asyncpg.Record]:
    """A user's days within the bounds (inclusive; None is open), oldest first."""
    return await conn.fetch(
        "SELECT day, purchases_count, purchases_total, sales_count, sales_total"
        " FROM report_days WHERE user_id = $1"
        " AND day >= coalesce($2::date, '-infinity'::date)"
        " AND day <= coalesce($3::date, 'infinity'::date)"
        " ORDER BY day",
        user_id, date_from, date_to,
    )


# --- rebuild (operator only; fan-out statements) ---------------------------------------
# A rebuild fills `reports_inbox_rebuild` from the stream while the live consumer keeps
# writing the real tables, then swaps in one short transaction (see `swap_in_rebuild`).

REBUILD_TABLE = "reports_inbox_rebuild"


async def database_now(conn: asyncpg.Connection) -> datetime:
    """The database's clock: `applied_at` is stamped by it, so compare against it."""
    return await conn.fetchval("SELECT now()")


async def create_rebuild_table(conn: asyncpg.Connection) -> None:
    """A fresh, empty shadow of the inbox (a leftover of an interrupted rebuild is dropped)."""
    await conn.execute(f"DROP TABLE IF EXISTS {REBUILD_TABLE}")
    await conn.execute(
        f"CREATE TABLE {REBUILD_TABLE} (LIKE reports_inbox INCLUDING DEFAULTS"
        " INCLUDING CONSTRAINTS INCLUDING INDEXES)"
    )
    await conn.execute(
        f"""
        DO $$ BEGIN
          IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus') THEN
            PERFORM create_distributed_table('{REBUILD_TABLE}', 'user_id',
                                             colocate_with => 'reports_inbox');
          END IF;
        END $$;
        """
    )


async def add_rebuild_entries(conn: asyncpg.Connection, entries: Iterable[Entry]) -> None:
    """Add entries to the shadow inbox; an event seen twice in the stream counts once."""
    await conn.executemany(
        f"INSERT INTO {REBUILD_TABLE} (user_id, event_id, role, day, amount_cents)"  # noqa: S608
        " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, event_id, role) DO NOTHING",
        list(entries),
    )


async def swap_in_rebuild(conn: asyncpg.Connection, live_since: datetime) -> int:
    """Make the shadow inbox the real one and recompute every day from it, in the caller's
    transaction; return the number of inbox entries.

    Entries the live consumer applied since `live_since` are kept: their events may have
    been published after the replay measured the stream's end. Blocking the live writers
    (EXCLUSIVE lock; readers go on) makes that merge and the swap atomic for them.
    """
    await conn.execute("LOCK TABLE reports_inbox, report_days IN EXCLUSIVE MODE")
    await conn.execute(
        f"INSERT INTO {REBUILD_TABLE} (user_id, event_id, role, day, amount_cents, applied_at)"  # noqa: S608
        " SELECT user_id, event_id, role, day, amount_cents, applied_at FROM reports_inbox"
        " WHERE applied_at >= $1 ON CONFLICT (user_id, event_id, role) DO NOTHING",
        live_since,
    )
    await conn.execute("TRUNCATE report_days, reports_inbox")
    await conn.execute(
        "INSERT INTO reports_inbox (user_id, event_id, role, day, amount_cents, applied_at)"
        f" SELECT user_id, event_id, role, day, amount_cents, applied_at FROM {REBUILD_TABLE}"  # noqa: S608
    )
    await conn.execute(
        """
        INSERT INTO report_days
            (user_id, day, purchases_count, purchases_total, sales_count, sales_total)
        SELECT user_id, day,
               count(*) FILTER (WHERE role = 'buyer'),
               coalesce(sum(amount_cents) FILTER (WHERE role = 'buyer'), 0),
               count(*) FILTER (WHERE role = 'seller'),
               coalesce(sum(amount_cents) FILTER (WHERE role = 'seller'), 0)
        FROM reports_inbox GROUP BY user_id, day
        """
    )
    return await conn.fetchval("SELECT count(*) FROM reports_inbox")


async def drop_rebuild_table(conn: asyncpg.Connection) -> None:
    await conn.execute(f"DROP TABLE IF EXISTS {REBUILD_TABLE}")
