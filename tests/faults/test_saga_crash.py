"""The purchase saga survives its orchestrator being killed at every step boundary.

The transactions worker is restarted with `ITEMX_CRASH_AFTER=<point>`: it SIGKILLs
itself right after a saga persisted that point (unacked messages go back to their
queues, nothing is cleaned up). Then a worker without the switch takes over, and every
saga must end COMPLETED or FAILED within 30 s, with money conserved, each item sold at
most once, and exactly one final event per saga.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.support import env
from tests.support.items import create_item
from tests.support.processes import ServiceProcess, Stack
from tests.support.purchases import (
    check_items,
    money_of,
    negative_balances,
    purchase_outcome,
    sagas_of,
)
from tests.support.users import deposit, register

pytestmark = pytest.mark.faults

SAGA_ENV = {"SAGA_STEP_TIMEOUT_SECONDS": "1", "SAGA_SWEEP_INTERVAL_SECONDS": "0.2"}
"""Short timeouts: a stalled step is resent after a second, not five."""
ENDED_WITHIN = 30.0


@pytest.fixture
def transactions(stack: Stack) -> Iterator[ServiceProcess]:
    """The suite's transactions worker, put back as it was after the test."""
    worker = stack["transactions"]
    yield worker
    worker.stop()
    worker.start()
    worker.wait_healthy()


def wait_for_exit(worker: ServiceProcess, timeout: float = 20.0) -> int | None:
    assert worker.process is not None
    deadline = time.monotonic() + timeout
    while worker.process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    return worker.process.poll()


async def sagas_end(db: asyncpg.Connection, buyers: list, timeout: float = ENDED_WITHIN) -> None:
    """Every saga of these buyers is COMPLETED or FAILED within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        states = [s["state"] for s in await sagas_of(db, buyers)]
        if states and all(state in ("COMPLETED", "FAILED") for state in states):
            return
        assert time.monotonic() < deadline, f"sagas still running: {states}"
        await asyncio.sleep(0.2)


async def one_final_event_each(db: asyncpg.Connection, buyers: list) -> None:
    """Exactly one purchase.completed per completed saga, one purchase.failed per failed."""
    for saga in await sagas_of(db, buyers):
        events = await db.fetch(
            "SELECT type FROM transactions_outbox WHERE key = $1"
            " AND (body::jsonb ->> 'purchase_id')::uuid = $2",
            saga["buyer_id"], saga["purchase_id"],
        )
        expected = "purchase.completed" if saga["state"] == "COMPLETED" else "purchase.failed"
        assert [e["type"] for e in events] == [expected], saga


async def scene(api: httpx.AsyncClient) -> tuple[list, list[tuple]]:
    """Sellers, items and buyers for sagas that take every path: completed, refused at
    reservation (two buyers for one item), compensated (insufficient funds)."""
    sellers = [await register(api, "seller") for _ in range(2)]
    first = await create_item(api, sellers[0], price="12.50")
    second = await create_item(api, sellers[1], price="12.50")
    third = await create_item(api, sellers[1], price="12.50")
    rich = [await register(api, "rich") for _ in range(3)]
    poor = await register(api, "poor")
    for buyer in rich:
        await deposit(api, buyer, "20.00")
    await deposit(api, poor, "5.00")
    plan = [(rich[0], first), (rich[1], first), (rich[2], second), (poor, third)]
    return [*sellers, *rich, poor], plan


async def check_after_faults(
    api: httpx.AsyncClient, db: asyncpg.Connection, users: list, plan: list[tuple],
    outcomes: list[str],
) -> None:
    buyers = [buyer for buyer, _ in plan]
    await sagas_end(db, buyers)
    assert sorted(outcomes[:2]) == ["completed", "item_not_available"]
    assert outcomes[2:] == ["completed", "insufficient_funds"]
    balances, deposits = await money_of(db, users)
    assert balances == deposits == 3 * 2000 + 500
    assert await negative_balances(db, users) == 0
    await check_items(db, buyers)
    await one_final_event_each(db, buyers)


@pytest.mark.parametrize(
    "point", ["start", "reserve", "debit", "credit", "record", "mark_sold", "release"]
)
async def test_a_killed_orchestrator_is_restarted_and_finishes_every_saga(
    point: str, api: httpx.AsyncClient, db: asyncpg.Connection, transactions: ServiceProcess
) -> None:
    users, plan = await scene(api)
    transactions.stop()
    transactions.start({**SAGA_ENV, "ITEMX_CRASH_AFTER": point})
    transactions.wait_healthy()

    purchases = asyncio.gather(*(
        purchase_outcome(api, buyer, item["id"]) for buyer, item in plan
    ))
    await asyncio.sleep(0)
    assert await asyncio.to_thread(wait_for_exit, transactions) == -9, (
        f"the worker did not crash after {point}"
    )
    await asyncio.to_thread(transactions.start, SAGA_ENV)
    await asyncio.to_thread(transactions.wait_healthy)

    await check_after_faults(api, db, users, plan, await purchases)


async def test_a_second_orchestrator_takes_over_from_a_killed_one(
    api: httpx.AsyncClient, db: asyncpg.Connection, transactions: ServiceProcess,
    service_env: dict[str, str], log_dir: Path,
) -> None:
    """Two workers share the sagas; one dies after a debit and is not restarted: the other
    takes its unacked messages and its sweeper's lock, and finishes every saga."""
    port = env.PORT_BASE + 13
    survivor = ServiceProcess(
        "transactions", {**service_env, "TRANSACTIONS_PORT": str(port)}, port, log_dir
    )
    survivor.start(SAGA_ENV)
    try:
        survivor.wait_healthy()
        transactions.stop()
        transactions.start({**SAGA_ENV, "ITEMX_CRASH_AFTER": "debit"})
        transactions.wait_healthy()
        users, plan = await scene(api)

        outcomes = await asyncio.gather(*(
            purchase_outcome(api, buyer, item["id"]) for buyer, item in plan
        ))

        await check_after_faults(api, db, users, plan, list(outcomes))
    finally:
        survivor.stop()
