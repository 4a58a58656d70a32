"""The transactional outbox: save an event with the change it describes, publish it later.

`add_event` inserts into a service's outbox table inside the caller's transaction.
`OutboxRelay` publishes pending rows to `itemx.events` with publisher confirms and
marks them published only after the broker confirmed: a crash in between publishes a
row again (events are at-least-once; consumers deduplicate by `event_id`). One relay
per service is active at a time (a PostgreSQL advisory lock), so any number of worker
processes can run. A broker outage only delays events: rows wait in the table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from typing import Any

import asyncpg
import orjson

from broker.codec import to_amqp
from broker.connection import BrokerUnavailable
from broker.publisher import Publisher, PublishFailed
from broker.topology import EVENTS_EXCHANGE
from contracts import Event
from contracts.envelope import Envelope

log = logging.getLogger(__name__)


async def add_event(
    conn: asyncpg.Connection, table: str, key: int, event: Event, request_id: str | None = None
) -> None:
    """Record `event` in `table` (in the caller's transaction), under distribution `key`."""
    await conn.execute(
        f"INSERT INTO {table} (key, event_id, type, version, body, request_id)"  # noqa: S608
        " VALUES ($1, $2, $3, $4, $5, $6)",
        key,
        event.event_id,
        event.name,
        event.version,
        orjson.dumps(event.body()).decode(),
        request_id,
    )


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        table: str,
        *,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        retention_days: int = 7,
    ):
        self._pool = pool
        self._publisher = publisher
        self._table = table
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._retention_days = retention_days
        self._lock_key = zlib.crc32(f"itemx.outbox.{table}".encode())
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.published = 0

    def wake(self) -> None:
        """Publish soon: called after a transaction that wrote to the outbox commits."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-{self._table}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                async with self._pool.acquire() as conn:
                    if await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                        try:
                            await self._relay(conn)
                        finally:
                            with contextlib.suppress(Exception):
                                await conn.execute("SELECT pg_advisory_unlock($1)", self._lock_key)
            except asyncio.CancelledError:
                raise
            except (BrokerUnavailable, PublishFailed) as exc:
                log.info("outbox %s: broker not accepting events yet: %s", self._table, exc)
            except Exception:
                log.exception("outbox %s: relay failed; retrying", self._table)
            await self._sleep()

    async def _relay(self, conn: asyncpg.Connection) -> None:
        """Publish batches while there is work; the lock is held on this connection."""
        pruned_at = 0.0
        loop = asyncio.get_running_loop()
        while True:
            published = await self.publish_pending(conn)
            if loop.time() - pruned_at > 60:
                await self.prune(conn)
                pruned_at = loop.time()
            if published < self._batch_size:
                await self._sleep()

    async def _sleep(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self._poll_interval)
        self._wake.clear()

    async def publish_pending(self, conn: asyncpg.Connection) -> int:
        """Publish one batch of pending rows, oldest first; return how many were published."""
        rows = await conn.fetch(
            # fan-out: the relay reads every shard's pending rows
            f"SELECT id, event_id, type, version, body, request_id, created_at"  # noqa: S608
            f" FROM {self._table} WHERE published_at IS NULL ORDER BY id LIMIT $1",
            self._batch_size,
        )
        if not rows:
            return 0
        await asyncio.gather(*(self._publish(row) for row in rows))
        await conn.execute(
            f"UPDATE {self._table} SET published_at = now() WHERE id = ANY($1::bigint[])",  # noqa: S608
            [row["id"] for row in rows],
        )
        self.published += len(rows)
        return len(rows)

    async def _publish(self, row: Any) -> None:
        envelope = Envelope(
            message_id=row["event_id"],
            type=row["type"],
            version=row["version"],
            request_id=row["request_id"],
            occurred_at=row["created_at"],
        )
        message = to_amqp(row["body"].encode(), envelope)
        await self._publisher.publish_raw(EVENTS_EXCHANGE, row["type"], message)

    async def prune(self, conn: asyncpg.Connection) -> None:
        await conn.execute(
            f"DELETE FROM {self._table} WHERE published_at < now() - make_interval(days => $1)",  # noqa: S608
            self._retention_days,
        )

