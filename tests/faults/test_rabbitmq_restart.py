"""RabbitMQ itself restarts (`rabbitmqctl stop_app` / `start_app`): while it is down the
gateway answers 503 at once and both /health endpoints name the broker; once it is back
the gateway and the accounts worker reconnect on their own and serve again.

This stops the broker everybody on the machine shares, for a few seconds: it is marked
`faults`; deselect it with `-m "not faults"` where that matters.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest

from contracts.accounts import Deposit
from tests.support import env, ports
from tests.support.amqp import scratch_vhost
from tests.support.clients import from_address
from tests.support.dedicated import dedicated_process, running
from tests.support.health import wait_for_health
from tests.support.metrics import sample_value
from tests.support.users import PASSWORD, register, unique_name


async def rabbitmqctl(*args: str) -> None:
    result = await asyncio.to_thread(env.rabbitmqctl, *args, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.faults
async def test_gateway_and_worker_recover_from_a_rabbitmq_restart(
    service_env: dict[str, str], log_dir: Path, db: asyncpg.Connection
) -> None:
    with scratch_vhost("restart") as vhost:  # the dedicated worker is its only consumer
        worker = dedicated_process(
            "accounts", service_env, log_dir, ports.RESTART_WORKER, AMQP_URL=vhost
        )
        gateway = dedicated_process(
            "gateway", service_env, log_dir, ports.RESTART_GATEWAY, AMQP_URL=vhost,
            RPC_TIMEOUT_SECONDS="10",
        )
        with running(worker), running(gateway):
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{gateway.port}", timeout=30
            ) as api:
                user = await register(api, "restart")
                key = {**user.headers, "idempotency-key": unique_name("key")}
                before = await api.post("/api/users/deposit", json={"amount": "5.00"}, headers=key)
                assert before.status_code == 200

                await rabbitmqctl("stop_app")
                try:
                    down = await wait_for_health(gateway.port, 503, timeout=15)
                    assert down["checks"]["broker"].startswith("failed")
                    down = await wait_for_health(worker.port, 503, timeout=15)
                    assert down["checks"]["broker"].startswith("failed")
                    assert down["checks"]["database"] == "ok"
                    async with asyncio.timeout(10):  # refused at once, not after 10 s each
                        for response in (
                            await api.post("/api/users/deposit", json={"amount": "1.00"},
                                           headers=user.headers),
                            await api.get("/api/users/profile", headers=user.headers),
                        ):
                            assert response.status_code == 503, response.text
                            assert response.json()["error"]["code"] == "service_unavailable"
                finally:
                    await rabbitmqctl("start_app")

                await wait_for_health(gateway.port, 200, timeout=90)
                await wait_for_health(worker.port, 200, timeout=90)
                handled = await sample_value(
                    f"http://127.0.0.1:{worker.port}", "itemx_messages_total",
                    service="accounts", type=Deposit.name, outcome="ok",
                )
                again = await api.post("/api/users/deposit", json={"amount": "5.00"}, headers=key)
                assert again.json() == before.json()  # the same deposit, not a second one
                fresh = await api.post(
                    "/api/users/deposit", json={"amount": "2.50"}, headers=user.headers
                )
                assert fresh.status_code == 200, fresh.text
                assert fresh.json()["balance"] == "7.50"
                assert await sample_value(
                    f"http://127.0.0.1:{worker.port}", "itemx_messages_total",
                    service="accounts", type=Deposit.name, outcome="ok",
                ) == handled + 2  # served by the restarted worker itself
                login = await api.post("/api/auth/login", headers=from_address(), json={
                    "username": user.username, "password": PASSWORD})
                assert login.status_code == 200
                assert (await register(api, "reborn")).token
        assert worker.process is not None and worker.process.returncode == 0
    assert await db.fetchval("SELECT balance FROM users WHERE id = $1", int(user.id)) == 750
