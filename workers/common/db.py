"""The database side of the worker runtime: an asyncpg pool, units of work, and which
faults are transient (worth retrying the whole unit of work)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

TRANSIENT_SQLSTATES = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "53300",  # too_many_connections
    "57P01",  # admin_shutdown (pg_terminate_backend, restart)
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up)
    "08000",
    "08003",
    "08006",
}


def is_transient(exc: BaseException) -> bool:
    """A fault that goes away by retrying the unit of work (not the statement)."""
    if isinstance(exc, asyncpg.PostgresError):
        return getattr(exc, "sqlstate", None) in TRANSIENT_SQLSTATES
    return isinstance(
        exc,
        asyncpg.exceptions.InterfaceError
        | asyncpg.exceptions.ConnectionDoesNotExistError
        | ConnectionError
        | OSError
        | asyncio.TimeoutError,
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release. asyncpg has already rolled back a transaction left
    open; the default reset query (unlock advisory locks, close cursors, UNLISTEN,
    RESET ALL) would add a round trip to every unit of work, and nothing in the workers
    leaves such state behind: the outbox relay and the saga sweeper release their
    advisory locks themselves, in `finally`, and no code uses SET, LISTEN or cursors."""


class Database:
    """An asyncpg pool; `transaction()` is the unit of work handlers use."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    @classmethod
    async def connect(cls, url: str, *, min_size: int = 2, max_size: int = 10) -> Database:
        pool = await asyncpg.create_pool(
            url, min_size=min_size, max_size=max_size, command_timeout=30,
            max_inactive_connection_lifetime=300, reset=_keep_session,
        )
        return cls(pool)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.pool.acquire() as conn:
            yield conn

    async def ping(self) -> None:
        async with self.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1")

    async def close(self) -> None:
        await self.pool.close()
