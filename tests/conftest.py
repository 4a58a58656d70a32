"""Shared fixtures: the suite's own database and vhost (migrated and declared once per
session), and the whole stack as real processes for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from broker.connection import BrokerConnection
from broker.outbox import OutboxRelay
from broker.publisher import Publisher
from broker.topology import declare_with
from ops.migrate import ensure_database, migrate
from tests.support import env
from tests.support.processes import ServiceProcess, Stack, available_services
from workers.accounts import handlers as accounts_handlers
from workers.common.db import Database


@pytest.fixture(scope="session")
def database_url() -> str:
    async def prepare() -> None:
        await ensure_database(env.DATABASE_URL)
        await migrate(env.DATABASE_URL)

    asyncio.run(prepare())
    return env.DATABASE_URL


@pytest.fixture(scope="session")
def amqp_url() -> str:
    url = env.ensure_vhost()
    asyncio.run(declare_with(url))
    return url


@pytest.fixture(scope="session")
def service_env(database_url: str, amqp_url: str) -> dict[str, str]:
    """The environment of every process the suite starts."""
    return {
        "DATABASE_URL": database_url,
        "AMQP_URL": amqp_url,
        "GATEWAY_PORT": str(env.PORTS["gateway"]),
        "ACCOUNTS_PORT": str(env.PORTS["accounts"]),
        "PRODUCTS_PORT": str(env.PORTS["products"]),
        "TRANSACTIONS_PORT": str(env.PORTS["transactions"]),
        "BIND_HOST": "127.0.0.1",
        "BCRYPT_ROUNDS": "4",  # the suite registers many users; production keeps 12
        "OUTBOX_POLL_SECONDS": "0.2",
        "LOG_LEVEL": "INFO",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture(scope="session")
def log_dir() -> Iterator[Path]:
    path = Path(os.environ.get("ITEMX_TEST_LOGS", tempfile.mkdtemp(prefix="itemx-test-logs-")))
    path.mkdir(parents=True, exist_ok=True)
    yield path


@pytest.fixture(scope="session")
def stack(service_env: dict[str, str], log_dir: Path) -> Iterator[Stack]:
    """The gateway and every worker, as real processes, for the whole session."""
    services = {
        name: ServiceProcess(name, dict(service_env), env.PORTS[name], log_dir)
        for name in available_services()
    }
    running = Stack(services)
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the running gateway."""
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=15) as client:
        yield client


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the suite's database, to check what the services wrote."""
    conn = await asyncpg.connect(database_url)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A worker-side pool on the suite's database, for handler and repository tests."""
    pool = await Database.connect(database_url, min_size=1, max_size=8)
    try:
        yield pool
    finally:
        await pool.close()


@pytest.fixture
def accounts_deps(database: Database, amqp_url: str) -> accounts_handlers.Deps:
    """The accounts handlers' real dependencies on the suite's database. The outbox relay
    is not started: the session's accounts worker relays the rows these tests write."""
    publisher = Publisher(BrokerConnection(amqp_url, name="itemx-test-unstarted"))
    return accounts_handlers.Deps(
        db=database,
        outbox=OutboxRelay(database.pool, publisher, accounts_handlers.OUTBOX),
        bcrypt_rounds=4,
        login_window_seconds=900,
    )
