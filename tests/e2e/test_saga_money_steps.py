"""The money steps of the purchase saga in the accounts worker, called over RabbitMQ as
the orchestrator calls them: each keyed by the purchase id, so a redelivered or resent
step moves no money twice; a debit over the balance moves nothing; a refund pays back
only what the purchase debited."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from broker.rpc import RemoteError, RpcClient
from contracts import ErrorCode
from contracts.accounts import CreditFunds, DebitFunds, FundsMoved, RefundFunds
from tests.support.items import rpc_client
from tests.support.processes import Stack
from tests.support.users import deposit, register


@pytest.fixture
async def rpc(stack: Stack, amqp_url: str) -> AsyncIterator[RpcClient]:
    async with rpc_client(amqp_url) as client:
        yield client


async def funded_user(api: httpx.AsyncClient, amount: str) -> int:
    user = await register(api, "money")
    await deposit(api, user, amount)
    return int(user.id)


async def ledger(db: asyncpg.Connection, user_id: int, purchase_id: uuid.UUID) -> list[str]:
    rows = await db.fetch(
        "SELECT kind FROM ledger WHERE user_id = $1 AND ref = $2 ORDER BY id", user_id, purchase_id
    )
    return [row["kind"] for row in rows]


async def balance_of(db: asyncpg.Connection, user_id: int) -> int:
    return await db.fetchval("SELECT balance FROM users WHERE id = $1", user_id)


async def test_a_debit_delivered_again_answers_the_same_and_moves_once(
    api: httpx.AsyncClient, db: asyncpg.Connection, rpc: RpcClient
) -> None:
    buyer, purchase_id = await funded_user(api, "20.00"), uuid.uuid4()
    debit = DebitFunds(purchase_id=purchase_id, user_id=buyer, amount_cents=1250)

    concurrent = await asyncio.gather(rpc.call(debit), rpc.call(debit))
    later = await rpc.call(debit)

    expected = FundsMoved(purchase_id=purchase_id, user_id=buyer, amount_cents=1250,
                          balance_cents=750)
    assert list(concurrent) == [expected, expected] and later == expected
    assert await balance_of(db, buyer) == 750
    assert await ledger(db, buyer, purchase_id) == ["debit"]


async def test_a_debit_over_the_balance_is_refused_and_moves_nothing(
    api: httpx.AsyncClient, db: asyncpg.Connection, rpc: RpcClient
) -> None:
    buyer, purchase_id = await funded_user(api, "12.49"), uuid.uuid4()
    with pytest.raises(RemoteError) as refused:
        await rpc.call(DebitFunds(purchase_id=purchase_id, user_id=buyer, amount_cents=1250))
    assert refused.value.reply.code is ErrorCode.INSUFFICIENT_FUNDS
    assert await balance_of(db, buyer) == 1249
    assert await ledger(db, buyer, purchase_id) == []

    exact = await rpc.call(DebitFunds(purchase_id=purchase_id, user_id=buyer, amount_cents=1249))
    assert isinstance(exact, FundsMoved) and exact.balance_cents == 0


async def test_a_credit_delivered_again_pays_once(
    api: httpx.AsyncClient, db: asyncpg.Connection, rpc: RpcClient
) -> None:
    seller, purchase_id = await funded_user(api, "1.00"), uuid.uuid4()
    credit = CreditFunds(purchase_id=purchase_id, user_id=seller, amount_cents=1250)
    first, second = await rpc.call(credit), await rpc.call(credit)
    assert first == second and isinstance(first, FundsMoved) and first.balance_cents == 1350
    assert await balance_of(db, seller) == 1350
    assert await ledger(db, seller, purchase_id) == ["credit"]


async def test_a_refund_pays_back_the_debit_once(
    api: httpx.AsyncClient, db: asyncpg.Connection, rpc: RpcClient
) -> None:
    buyer, purchase_id = await funded_user(api, "20.00"), uuid.uuid4()
    await rpc.call(DebitFunds(purchase_id=purchase_id, user_id=buyer, amount_cents=1250))
    refund = RefundFunds(purchase_id=purchase_id, user_id=buyer, amount_cents=1250)

    first, second = await rpc.call(refund), await rpc.call(refund)

    assert first == second == FundsMoved(
        purchase_id=purchase_id, user_id=buyer, amount_cents=1250, balance_cents=2000
    )
    assert await balance_of(db, buyer) == 2000
    assert await ledger(db, buyer, purchase_id) == ["debit", "refund"]


async def test_a_refund_without_a_debit_is_a_no_op_until_the_debit_comes(
    api: httpx.AsyncClient, db: asyncpg.Connection, rpc: RpcClient
) -> None:
    """A compensation that overtook a resent debit: nothing to pay back yet; once the late
    debit went through, the saga refunds again and this time money moves back."""
    buyer, purchase_id = await funded_user(api, "20.00"), uuid.uuid4()
    refund = RefundFunds(purchase_id=purchase_id, user_id=buyer, amount_cents=1250)

    nothing = await rpc.call(refund)
    assert nothing == FundsMoved(purchase_id=purchase_id, user_id=buyer, amount_cents=0,
                                 balance_cents=2000)
    assert await ledger(db, buyer, purchase_id) == []

    await rpc.call(DebitFunds(purchase_id=purchase_id, user_id=buyer, amount_cents=1250))
    paid_back = await rpc.call(refund)
    assert isinstance(paid_back, FundsMoved)
    assert (paid_back.amount_cents, paid_back.balance_cents) == (1250, 2000)
    assert await ledger(db, buyer, purchase_id) == ["debit", "refund"]


async def test_money_steps_for_an_unknown_user_are_refused(rpc: RpcClient) -> None:
    for command in (DebitFunds, CreditFunds, RefundFunds):
        with pytest.raises(RemoteError) as refused:
            await rpc.call(command(purchase_id=uuid.uuid4(), user_id=2**62, amount_cents=1))
        assert refused.value.reply.code is ErrorCode.USER_NOT_FOUND
