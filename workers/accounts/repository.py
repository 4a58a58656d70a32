"""The accounts service's SQL. Every statement on a distributed table filters on its
distribution column: users/ledger/accounts_outbox by user id, usernames by username,
user_emails by email, login_failures by subject (`citus.md`, rule 3)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import asyncpg

USER_COLUMNS = "id, username, email, password_hash, balance, register_id, created_at"


class UsernameTaken(Exception):
    """The lower-cased username is already in `usernames`."""


class EmailTaken(Exception):
    """The lower-cased email is already in `user_emails`."""


async def insert_user(
    conn: asyncpg.Connection, username: str, email: str, password_hash: str, register_id: UUID
) -> asyncpg.Record:
    """Create the user and claim its username and email, in the caller's transaction.

    Which uniqueness failed is told by which statement failed (SQLSTATE 23505), never by
    a constraint name: on Citus the names carry a shard suffix. A violation aborts the
    caller's transaction, so nothing of the user remains.
    """
    user = await conn.fetchrow(
        f"INSERT INTO users (username, email, password_hash, register_id)"
        f" VALUES ($1, $2, $3, $4) RETURNING {USER_COLUMNS}",
        username, email, password_hash, register_id,
    )
    try:
        await conn.execute(
            "INSERT INTO usernames (username, user_id) VALUES ($1, $2)",
            username.lower(), user["id"],
        )
    except asyncpg.UniqueViolationError as exc:
        raise UsernameTaken(username) from exc
    try:
        await conn.execute(
            "INSERT INTO user_emails (email, user_id) VALUES ($1, $2)",
            email.lower(), user["id"],
        )
    except asyncpg.UniqueViolationError as exc:
        raise EmailTaken(email) from exc
    return user


async def user_id_by_username(conn: asyncpg.Connection, username: str) -> int | None:
    return await conn.fetchval(
        "SELECT user_id FROM usernames WHERE username = $1", username.lower()
    )


async def user_id_by_email(conn: asyncpg.Connection, email: str) -> int | None:
    return await conn.fetchval("SELECT user_id FROM user_emails WHERE email = $1", email.lower())


async def get_user(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {USER_COLUMNS} FROM users WHERE id = $1", user_id)


async def lock_user(conn: asyncpg.Connection, user_id: int) -> asyncpg.Record | None:
    """The user row, locked until the transaction ends (serialises money movements)."""
    return await conn.fetchrow(
        f"SELECT {USER_COLUMNS} FROM users WHERE id = $1 FOR UPDATE", user_id
    )


async def find_ledger_entry(
    conn: asyncpg.Connection, user_id: int, kind: str, ref: UUID
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT amount, balance_after, created_at FROM ledger"
        " WHERE user_id = $1 AND kind = $2 AND ref = $3",
        user_id, kind, ref,
    )


async def move_money(
    conn: asyncpg.Connection, user_id: int, kind: str, ref: UUID, delta: int
) -> int:
    """Change the balance by `delta` and record it in the ledger; return the new balance.

    The caller holds the user's row lock and has checked that `ref` is new. The balance
    CHECK (>= 0) is the last line of defence against overdrafts.
    """
    balance = await conn.fetchval(
        "UPDATE users SET balance = balance + $2 WHERE id = $1 RETURNING balance",
        user_id, delta,
    )
    await conn.execute(
        "INSERT INTO ledger (user_id, kind, ref, amount, balance_after)"
        " VALUES ($1, $2, $3, $4, $5)",
        user_id, kind, ref, abs(delta), balance,
    )
    return balance


async def recent_failures(
    conn: asyncpg.Connection, subject: str, window_seconds: int
) -> int:
    return await conn.fetchval(
        "SELECT failures FROM login_failures WHERE subject = $1"
        " AND window_start > now() - make_interval(secs => $2)",
        subject, window_seconds,
    ) or 0


async def record_failure(conn: asyncpg.Connection, subject: str, window_seconds: int) -> None:
    """Count a failed login; a window older than `window_seconds` starts over."""
    await conn.execute(
        """
        INSERT INTO login_failures AS f (subject, failures, window_start)
        VALUES ($1, 1, now())
        ON CONFLICT (subject) DO UPDATE SET
          failures = CASE WHEN f.window_start <= now() - make_interval(secs => $2)
                          THEN 1 ELSE f.failures + 1 END,
          window_start = CASE WHEN f.window_start <= now() - make_interval(secs => $2)
                              THEN now() ELSE f.window_start END
        """,
        subject, window_seconds,
    )


async def prune_login_failures(conn: asyncpg.Connection, window_seconds: int) -> int:
    """Forget throttle windows that have ended (logins that never succeeded, made-up
    names); return how many. A fan-out, run every few minutes, not per request."""
    status = await conn.execute(
        "DELETE FROM login_failures WHERE window_start <= now() - make_interval(secs => $1)",
        window_seconds,
    )
    return int(status.split()[-1])


async def clear_failures(conn: asyncpg.Connection, subject: str) -> None:
    await conn.execute("DELETE FROM login_failures WHERE subject = $1", subject)


@dataclass(frozen=True)
class Movement:
    """What `move_money_once` found: the money moved now, moved before, or refused."""

    applied: bool
    """True when this call moved the money."""
    amount: int | None
    """The amount moved (now or by the first delivery); None when nothing moved."""
    balance: int | None
    """The balance after the movement, or the current balance when refused; None when
    the user does not exist."""


async def move_money_once(
    conn: asyncpg.Connection, user_id: int, kind: str, ref: UUID, delta: int
) -> Movement:
    """Move `delta` once per (user, kind, ref), in ONE statement (its own transaction):
    the balance change and its ledger row together, unless the ledger already has the
    row (a redelivery: answer what was done) or the balance would go below zero.

    Two concurrent deliveries of the same ref: the second waits on the user's row, then
    either its ledger insert violates the unique key and the whole statement rolls back
    (UniqueViolationError), or, for a debit, the balance the first one left fails the
    check and it looks refused while its snapshot cannot see the first one's ledger
    row. The caller resolves both with a fresh read (see accounts.handlers._move_once).
    """
    row = await conn.fetchrow(
        """
        WITH moved AS (
            UPDATE users SET balance = balance + $4
            WHERE id = $1 AND balance + $4 >= 0
              AND NOT EXISTS (
                  SELECT 1 FROM ledger WHERE user_id = $1 AND kind = $2 AND ref = $3)
            RETURNING balance
        ), recorded AS (
            INSERT INTO ledger (user_id, kind, ref, amount, balance_after)
            SELECT $1, $2, $3, abs($4), balance FROM moved
            RETURNING amount, balance_after
        )
        SELECT true AS applied, amount, balance_after AS balance FROM recorded
        UNION ALL
        SELECT false, amount, balance_after FROM ledger
        WHERE user_id = $1 AND kind = $2 AND ref = $3
        UNION ALL
        SELECT false, NULL, balance FROM users
        WHERE id = $1 AND NOT EXISTS (
            SELECT 1 FROM ledger WHERE user_id = $1 AND kind = $2 AND ref = $3)
        ORDER BY 1 DESC
        LIMIT 1
        """,
        user_id, kind, ref, delta,
    )
    if row is None:
        return Movement(applied=False, amount=None, balance=None)
    return Movement(applied=row["applied"], amount=row["amount"], balance=row["balance"])
