"""The same debit delivered twice at the same instant (a saga step resent while the
first delivery is still running) moves the money once and answers the same twice —
never `insufficient_funds` for a debit that happened, which would make the saga
release the item without refunding the buyer."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from contracts.accounts import DebitFunds, FundsMoved
from workers.accounts import handlers


@pytest.fixture
def deps(accounts_deps: handlers.Deps) -> handlers.Deps:
    return accounts_deps


async def new_user(deps: handlers.Deps, balance: int) -> int:
    name = f"race{uuid.uuid4().hex[:12]}"
    async with deps.db.connection() as conn:
        return await conn.fetchval(
            "INSERT INTO users (username, email, password_hash, balance, register_id)"
            " VALUES ($1, $2, 'x', $3, $4) RETURNING id",
            name, f"{name}@example.com", balance, uuid.uuid4(),
        )


async def test_duplicate_debits_at_once_move_money_once(deps: handlers.Deps) -> None:
    for _ in range(40):
        user_id = await new_user(deps, 2000)  # covers one debit of 12.50, not two
        debit = DebitFunds(purchase_id=uuid.uuid4(), user_id=user_id, amount_cents=1250)
        answers = await asyncio.gather(*(handlers.debit(debit, deps) for _ in range(3)))
        expected = FundsMoved(
            purchase_id=debit.purchase_id, user_id=user_id, amount_cents=1250, balance_cents=750
        )
        assert answers == [expected] * 3
        async with deps.db.connection() as conn:
            assert await conn.fetchval("SELECT balance FROM users WHERE id = $1", user_id) == 750
            assert await conn.fetchval(
                "SELECT count(*) FROM ledger WHERE user_id = $1", user_id
            ) == 1
