"""Ended throttle windows are forgotten by the accounts worker's periodic prune, so
failed logins for made-up names do not pile up; running windows are kept."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from broker.connection import BrokerConnection
from broker.outbox import OutboxRelay
from broker.publisher import Publisher
from workers.accounts import handlers
from workers.common.db import Database


@pytest.fixture
async def deps(database_url: str, amqp_url: str) -> AsyncIterator[handlers.Deps]:
    db = await Database.connect(database_url, min_size=1, max_size=2)
    publisher = Publisher(BrokerConnection(amqp_url, name="itemx-test-prune"))
    try:
        yield handlers.Deps(
            db=db, outbox=OutboxRelay(db.pool, publisher, handlers.OUTBOX),
            login_window_seconds=900,
        )
    finally:
        await db.close()


async def test_prune_forgets_ended_windows_only(deps: handlers.Deps) -> None:
    ended, running = f"login:ended-{uuid.uuid4().hex}", f"login:running-{uuid.uuid4().hex}"
    async with deps.db.connection() as conn:
        await conn.executemany(
            "INSERT INTO login_failures (subject, failures, window_start)"
            " VALUES ($1, 3, now() - make_interval(secs => $2))",
            [(ended, 901), (running, 60)],
        )
    assert await handlers.prune_throttle(deps) >= 1
    async with deps.db.connection() as conn:
        left = {
            row["subject"] for row in await conn.fetch(
                "SELECT subject FROM login_failures WHERE subject = ANY($1::text[])",
                [ended, running],
            )
        }
    assert left == {running}
