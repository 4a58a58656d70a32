"""RabbitMQ out of reach, one process at a time: a proxy between a dedicated gateway or
worker and the shared broker is cut and restored. The gateway answers 503 at once
instead of hanging, calls in flight fail fast, /health names the failed check, and
everything works again once the link is back (a worker's link to PostgreSQL too). A
gateway with no worker behind it answers 504 past its deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from api_gateway.auth import TokenService
from api_gateway.settings import DEVELOPMENT_JWT_SECRET
from tests.support import ports
from tests.support.amqp import scratch_vhost
from tests.support.clients import from_address
from tests.support.dedicated import dedicated_process, running
from tests.support.health import wait_for_health
from tests.support.processes import Stack
from tests.support.tcpproxy import TcpProxy
from tests.support.users import PASSWORD, register, unique_name
from tests.support.waiting import wait_until


@pytest.fixture
def proxy(amqp_url: str) -> Iterator[TcpProxy]:
    with TcpProxy.for_url(amqp_url) as started:
        yield started


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response.headers["retry-after"]
    assert response.headers["x-request-id"]


async def blocked_on_a_row_lock(database_url: str) -> bool:
    conn = await asyncpg.connect(database_url)
    try:
        return bool(await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query ILIKE '%FOR UPDATE%'"
        ))
    finally:
        await conn.close()


async def test_gateway_answers_503_while_the_broker_is_unreachable_then_recovers(
    stack: Stack, service_env: dict[str, str], log_dir: Path, amqp_url: str,
    database_url: str, db: asyncpg.Connection, proxy: TcpProxy,
) -> None:
    gateway = dedicated_process(
        "gateway", service_env, log_dir, ports.OUTAGE_GATEWAY,
        AMQP_URL=proxy.url(amqp_url), RPC_TIMEOUT_SECONDS="30", QUERY_TIMEOUT_SECONDS="30",
    )
    with running(gateway):
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{gateway.port}", timeout=60
        ) as api:
            user = await register(api, "outage")
            key = {"idempotency-key": unique_name("key")}

            # a deposit in flight: the worker waits on the user's row, which we hold
            locker = db.transaction()
            await locker.start()
            await db.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", int(user.id))
            in_flight = asyncio.ensure_future(api.post(
                "/api/users/deposit", json={"amount": "9.00"}, headers={**user.headers, **key}
            ))
            await wait_until(
                lambda: blocked_on_a_row_lock(database_url), 15, "the deposit in flight"
            )
            proxy.cut()
            async with asyncio.timeout(10):  # the call's own deadline is 30 s away
                assert_unavailable(await in_flight)

            # while cut: every call is refused at once, health says why
            await wait_for_health(gateway.port, 503, timeout=10)
            async with asyncio.timeout(10):
                for response in (
                    await api.post("/api/auth/register", json={
                        "username": unique_name("cut"), "email": f"{unique_name()}@example.com",
                        "password": PASSWORD}),
                    await api.post("/api/auth/login", headers=from_address(), json={
                        "username": user.username, "password": PASSWORD}),
                    await api.get("/api/users/profile", headers=user.headers),
                ):
                    assert_unavailable(response)
            body = (await api.get("/health")).json()
            assert body["checks"]["broker"].startswith("failed")

            await locker.rollback()  # the worker applies the deposit it had received
            proxy.restore()
            await wait_for_health(gateway.port, 200, timeout=30)

            retried = await api.post(
                "/api/users/deposit", json={"amount": "9.00"}, headers={**user.headers, **key}
            )
            assert retried.status_code == 200, retried.text
            assert retried.json()["balance"] == "9.00"
            assert await db.fetchval(
                "SELECT count(*) FROM ledger WHERE user_id = $1", int(user.id)
            ) == 1
            profile = await api.get("/api/users/profile", headers=user.headers)
            assert profile.status_code == 200
            assert profile.json()["balance"] == "9.00"
            assert (await register(api, "after")).token


async def test_worker_health_names_the_broker_when_its_link_is_cut(
    stack: Stack, service_env: dict[str, str], log_dir: Path, amqp_url: str, proxy: TcpProxy,
) -> None:
    worker = dedicated_process(
        "accounts", service_env, log_dir, ports.OUTAGE_WORKER, AMQP_URL=proxy.url(amqp_url)
    )
    with running(worker):
        healthy = await wait_for_health(worker.port, 200)
        assert healthy["checks"] == {"database": "ok", "broker": "ok"}
        proxy.cut()
        failing = await wait_for_health(worker.port, 503, timeout=10)
        assert failing["status"] == "unavailable"
        assert failing["checks"]["database"] == "ok"
        assert failing["checks"]["broker"].startswith("failed")
        assert "RabbitMQ" in failing["checks"]["broker"]
        proxy.restore()
        recovered = await wait_for_health(worker.port, 200, timeout=30)
        assert recovered["checks"] == {"database": "ok", "broker": "ok"}
    assert worker.process is not None and worker.process.returncode == 0


async def test_worker_health_names_the_database_when_it_is_unreachable(
    service_env: dict[str, str], log_dir: Path, database_url: str
) -> None:
    """The same proxy, between a worker and PostgreSQL this time."""
    with scratch_vhost("dbcut") as vhost, TcpProxy.for_url(database_url) as pg_proxy:
        worker = dedicated_process(
            "accounts", service_env, log_dir, ports.DB_OUTAGE_WORKER,
            AMQP_URL=vhost, DATABASE_URL=pg_proxy.url(database_url),
        )
        with running(worker):
            pg_proxy.cut()
            failing = await wait_for_health(worker.port, 503, timeout=15)
            assert failing["checks"]["broker"] == "ok"
            assert failing["checks"]["database"].startswith("failed")
            pg_proxy.restore()
            recovered = await wait_for_health(worker.port, 200, timeout=30)
            assert recovered["checks"] == {"database": "ok", "broker": "ok"}


async def test_a_call_nobody_answers_is_a_504_at_its_deadline(
    service_env: dict[str, str], log_dir: Path
) -> None:
    """A gateway in a vhost of its own, where no worker consumes: 504, not a hang."""
    with scratch_vhost("timeout") as lonely_vhost:
        gateway = dedicated_process(
            "gateway", service_env, log_dir, ports.TIMEOUT_GATEWAY,
            AMQP_URL=lonely_vhost, RPC_TIMEOUT_SECONDS="1", QUERY_TIMEOUT_SECONDS="1",
        )
        token = TokenService(DEVELOPMENT_JWT_SECRET, 600).issue(1)
        with running(gateway):
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{gateway.port}", timeout=15
            ) as api:
                name = unique_name("nobody")
                responses = [
                    await api.post("/api/auth/register", json={
                        "username": name, "email": f"{name}@example.com", "password": PASSWORD}),
                    await api.post("/api/auth/login", headers=from_address(), json={
                        "username": name, "password": PASSWORD}),
                    await api.get("/api/users/profile", headers={"x-auth-token": token}),
                    await api.post("/api/users/deposit", json={"amount": "1.00"},
                                   headers={"x-auth-token": token}),
                ]
        for response in responses:
            assert response.status_code == 504, response.text
            assert response.json()["error"]["code"] == "timeout"
            assert response.headers["x-request-id"]
