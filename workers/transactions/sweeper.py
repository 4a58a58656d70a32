"""The saga sweeper: resumes sagas that stopped moving (a worker killed between saving a
step and sending it, a lost reply, a step that failed and must be retried), so every
purchase ends COMPLETED or FAILED within a bounded time.

Any number of transactions workers may run; one sweeper is active at a time (a
PostgreSQL advisory lock held on its connection: when its worker dies, the connection
closes and another worker's sweeper takes over). Each overdue saga is claimed with a
compare-and-set on its row by (buyer_id, purchase_id) before its step is resent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib

import asyncpg

from workers.transactions import repository as repo
from workers.transactions.orchestrator import SagaOrchestrator

log = logging.getLogger(__name__)

SWEEPER_LOCK = zlib.crc32(b"itemx.transactions.saga-sweeper")


class SagaSweeper:
    def __init__(
        self,
        pool: asyncpg.Pool,
        orchestrator: SagaOrchestrator,
        *,
        interval: float = 1.0,
        batch_size: int = 200,
    ):
        self._pool = pool
        self._orchestrator = orchestrator
        self._interval = interval
        self._batch_size = batch_size
        self._task: asyncio.Task[None] | None = None
        self.resumed = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="saga-sweeper")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with self._pool.acquire() as conn:
                    if await conn.fetchval("SELECT pg_try_advisory_lock($1)", SWEEPER_LOCK):
                        try:
                            await self._sweep_while_holding(conn)
                        finally:
                            with contextlib.suppress(Exception):
                                await conn.execute("SELECT pg_advisory_unlock($1)", SWEEPER_LOCK)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("saga sweeper failed; retrying")
            await asyncio.sleep(self._interval)

    async def _sweep_while_holding(self, conn: asyncpg.Connection) -> None:
        while True:
            if await self.sweep_once(conn) < self._batch_size:
                await asyncio.sleep(self._interval)

    async def sweep_once(self, conn: asyncpg.Connection) -> int:
        """Resend the current step of every overdue saga (one batch); return how many were
        resent (fewer than a batch: the sweeper rests until the next interval)."""
        resumed = 0
        for row in await repo.due_purchases(conn, self._batch_size):
            try:
                resumed += await self._orchestrator.resume(row["buyer_id"], row["purchase_id"])
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("could not resume purchase %s", row["purchase_id"])
        self.resumed += resumed
        return resumed
