"""`itemx cluster-init` against the local PostgreSQL: plain PostgreSQL has no citus, so the
command must say so and still migrate; run twice it changes nothing; it waits for nodes
with a deadline and names the ones that never answered."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest

from ops.cluster import (
    ClusterInitError,
    ClusterPlan,
    Node,
    NodeUnreachable,
    cluster_init,
    node_url,
    wait_for_nodes,
    with_setting,
)
from ops.migrate import discover
from tests.support import env
from tests.support.processes import ROOT
from tests.support.sql_schema import read_schema

FRESH_DB = f"{env.TEST_DB}_cluster_init"
FRESH_URL = f"{env.PG_SERVER}/{FRESH_DB}"
SERVER_URL = f"{env.PG_SERVER}/postgres"


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(SERVER_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def fresh_database() -> AsyncIterator[str]:
    """A database this test creates (through cluster-init) and drops."""
    await _drop(FRESH_DB)
    try:
        yield FRESH_URL
    finally:
        await _drop(FRESH_DB)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def itemx(*args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """The real command, as an operator (or the compose job) runs it."""
    isolated = {"CITUS_WORKERS": "", "CITUS_SECONDARIES": "", "CITUS_COORDINATOR": ""}
    return subprocess.run(
        [sys.executable, "-m", "ops.cli", *args],
        cwd=ROOT, env={**os.environ, **isolated, **extra_env}, capture_output=True, text=True,
        timeout=60,
    )


async def test_plain_postgresql_is_detected_and_migrated_once(fresh_database: str) -> None:
    said: list[str] = []
    first = await cluster_init(ClusterPlan(fresh_database, timeout=10), said.append)
    assert not first.citus
    assert any("plain PostgreSQL" in line and "migrations" in line for line in said), said
    assert first.migrations == [m.name for m in discover()]
    assert first.added == [] and first.already_registered == []

    second = await cluster_init(ClusterPlan(fresh_database, timeout=10), said.append)
    assert second.migrations == []

    conn = await asyncpg.connect(fresh_database)
    try:
        tables = {r["tablename"] for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )}
        recorded = await conn.fetchval("SELECT count(*) FROM schema_migrations")
    finally:
        await conn.close()
    assert set(read_schema().tables) <= tables
    assert recorded == len(discover())


async def test_the_command_twice_on_a_fresh_database(fresh_database: str) -> None:
    first = await asyncio.to_thread(itemx, "--database-url", fresh_database, "cluster-init")
    assert first.returncode == 0, first.stderr
    assert "plain PostgreSQL (no citus extension available)" in first.stdout
    assert f"applied {len(discover())} migration(s)" in first.stdout

    second = await asyncio.to_thread(itemx, "--database-url", fresh_database, "cluster-init")
    assert second.returncode == 0, second.stderr
    assert "applied 0 migration(s)" in second.stdout


async def test_an_unreachable_node_fails_after_the_timeout_naming_it(
    fresh_database: str,
) -> None:
    port = closed_port()
    started = time.monotonic()
    result = await asyncio.to_thread(
        itemx, "--database-url", fresh_database, "cluster-init", "--timeout", "1.5",
        CITUS_WORKERS=f"127.0.0.1:{port}",
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 1
    assert f"worker 127.0.0.1:{port} not reachable" in result.stderr, result.stderr
    assert "gave up after 1.5s" in result.stderr
    assert 1.5 <= elapsed < 30
    # Nothing happened before every node answered: not even the database was created.
    admin = await asyncpg.connect(SERVER_URL)
    try:
        assert not await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", FRESH_DB)
    finally:
        await admin.close()


async def test_every_unreachable_node_is_named() -> None:
    first, second = closed_port(), closed_port()
    nodes = {
        "coordinator": SERVER_URL,
        f"worker 127.0.0.1:{first}": node_url(SERVER_URL, Node("127.0.0.1", first)),
        f"secondary 127.0.0.1:{second}": node_url(SERVER_URL, Node("127.0.0.1", second)),
    }
    with pytest.raises(NodeUnreachable) as failure:
        await wait_for_nodes(nodes, timeout=1.0)
    message = str(failure.value)
    assert f"worker 127.0.0.1:{first}" in message
    assert f"secondary 127.0.0.1:{second}" in message
    assert "coordinator" not in message


@contextlib.contextmanager
def _forwarder_later(delay: float, target_port: int) -> Iterator[int]:
    """A port that starts forwarding to PostgreSQL only after `delay` seconds."""
    port = closed_port()
    servers: list[asyncio.Server] = []

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def forward(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
        await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))

    async def open_later() -> None:
        await asyncio.sleep(delay)
        servers.append(await asyncio.start_server(forward, "127.0.0.1", port))

    task = asyncio.get_running_loop().create_task(open_later())
    try:
        yield port
    finally:
        task.cancel()
        for server in servers:
            server.close()


async def test_waits_for_a_node_that_comes_up_late() -> None:
    pg_port = Node.parse(env.PG_SERVER.rpartition("@")[2]).port
    with _forwarder_later(1.5, pg_port) as port:
        started = time.monotonic()
        await wait_for_nodes(
            {"late worker": node_url(SERVER_URL, Node("127.0.0.1", port))}, timeout=20
        )
        assert time.monotonic() - started >= 1.4


async def test_workers_without_citus_are_refused_before_migrating(fresh_database: str) -> None:
    pg = Node.parse(env.PG_SERVER.rpartition("@")[2])
    plan = ClusterPlan(fresh_database, workers=[pg], timeout=10)
    with pytest.raises(ClusterInitError, match="citus extension is not available"):
        await cluster_init(plan, lambda _: None)
    conn = await asyncpg.connect(fresh_database)
    try:
        assert await conn.fetchval("SELECT to_regclass('schema_migrations')") is None
    finally:
        await conn.close()


async def test_the_migrations_session_setting_reaches_the_server() -> None:
    """On Citus, cluster-init migrates in sequential mode through a URL setting."""
    url = with_setting(SERVER_URL, "citus.multi_shard_modify_mode", "sequential")
    conn = await asyncpg.connect(url)
    try:
        assert await conn.fetchval("SHOW citus.multi_shard_modify_mode") == "sequential"
    finally:
        await conn.close()
