"""What the accounts service does with each message. Plain functions of a contract and
their dependencies; the registry is at the bottom."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from uuid import UUID

import asyncpg

from broker.consumer import Handler, current_envelope
from broker.outbox import OutboxRelay, add_event
from contracts import ErrorCode, Message, Refusal
from contracts.accounts import (
    CreditFunds,
    DebitFunds,
    Deposit,
    DepositResult,
    FundsMoved,
    GetUser,
    Login,
    RefundFunds,
    Register,
    User,
)
from contracts.events import FundsDeposited, UserRegistered
from workers.accounts import passwords
from workers.accounts import repository as repo
from workers.common.db import Database

OUTBOX = "accounts_outbox"


@dataclass(frozen=True)
class Deps:
    db: Database
    outbox: OutboxRelay
    bcrypt_rounds: int = 12
    login_window_seconds: int = 900
    login_max_failures_per_user: int = 5
    login_max_failures_per_address: int = 50


def _user(row: asyncpg.Record) -> User:
    return User(
        id=row["id"],
        username=row["username"],
        email=row["email"],
        balance_cents=row["balance"],
        created_at=row["created_at"],
    )


def _request_id() -> str | None:
    envelope = current_envelope.get()
    return envelope.request_id if envelope else None


async def register(cmd: Register, deps: Deps) -> User:
    try:
        password_hash = await passwords.hash_password(cmd.password, deps.bcrypt_rounds)
    except passwords.PasswordTooLong as exc:
        raise Refusal(ErrorCode.VALIDATION_ERROR, str(exc), {"fields": ["password"]}) from exc
    try:
        async with deps.db.transaction() as conn:
            row = await repo.insert_user(
                conn, cmd.username, cmd.email, password_hash, cmd.register_id
            )
            await add_event(
                conn, OUTBOX, row["id"],
                UserRegistered(user_id=row["id"], username=row["username"]), _request_id(),
            )
    except repo.UsernameTaken:
        existing = await _same_registration(cmd, deps)
        if existing is not None:
            return existing  # this command was delivered before: answer the same
        raise Refusal(ErrorCode.USERNAME_TAKEN, "this username is taken") from None
    except repo.EmailTaken:
        raise Refusal(ErrorCode.EMAIL_TAKEN, "this email is already registered") from None
    deps.outbox.wake()
    return _user(row)


async def _same_registration(cmd: Register, deps: Deps) -> User | None:
    async with deps.db.connection() as conn:
        user_id = await repo.user_id_by_username(conn, cmd.username)
        row = await repo.get_user(conn, user_id) if user_id is not None else None
    if row is not None and row["register_id"] == cmd.register_id:
        return _user(row)
    return None


async def login(cmd: Login, deps: Deps) -> User:
    """Check a password, throttled per account and per client address.

    An existing account is counted under its id, whichever of username or email was
    typed, so both spellings share one budget; an unknown login under its text.
    """
    lookup = repo.user_id_by_email if "@" in cmd.login else repo.user_id_by_username
    async with deps.db.connection() as conn:
        user_id = await lookup(conn, cmd.login)
        account = f"user:{user_id}" if user_id is not None else f"login:{cmd.login.lower()}"
        limits = {account: deps.login_max_failures_per_user}
        if cmd.client_address:
            limits[f"addr:{cmd.client_address}"] = deps.login_max_failures_per_address
        for subject, limit in limits.items():
            if await repo.recent_failures(conn, subject, deps.login_window_seconds) >= limit:
                raise Refusal(ErrorCode.TOO_MANY_ATTEMPTS, "too many failed logins; try later")
        row = await repo.get_user(conn, user_id) if user_id is not None else None
    matched = await passwords.check_login(
        cmd.password, row["password_hash"] if row else None, deps.bcrypt_rounds
    )
    if row is None or not matched:
        async with deps.db.transaction() as conn:
            for subject in limits:
                await repo.record_failure(conn, subject, deps.login_window_seconds)
        raise Refusal(ErrorCode.INVALID_CREDENTIALS, "wrong username, email or password")
    async with deps.db.connection() as conn:
        await repo.clear_failures(conn, account)
    return _user(row)


async def prune_throttle(deps: Deps) -> int:
    """Drop ended throttle windows, so made-up logins do not pile up (run periodically)."""
    async with deps.db.connection() as conn:
        return await repo.prune_login_failures(conn, deps.login_window_seconds)


async def get_user(query: GetUser, deps: Deps) -> User:
    async with deps.db.connection() as conn:
        row = await repo.get_user(conn, query.user_id)
    if row is None:
        raise Refusal(ErrorCode.USER_NOT_FOUND, "no such user")
    return _user(row)


async def deposit(cmd: Deposit, deps: Deps) -> DepositResult:
    """Add money once per deposit id: a redelivered command or a retried request with the
    same Idempotency-Key answers the first result; the same key with another amount is
    refused."""
    async with deps.db.transaction() as conn:
        if await repo.lock_user(conn, cmd.user_id) is None:
            raise Refusal(ErrorCode.USER_NOT_FOUND, "no such user")
        previous = await repo.find_ledger_entry(conn, cmd.user_id, "deposit", cmd.deposit_id)
        if previous is not None:
            if previous["amount"] != cmd.amount_cents:
                raise Refusal(
                    ErrorCode.IDEMPOTENCY_KEY_REUSED,
                    "this Idempotency-Key was used for another request",
                )
            return DepositResult(
                deposit_id=cmd.deposit_id,
                amount_cents=cmd.amount_cents,
                balance_cents=previous["balance_after"],
            )
        balance = await repo.move_money(
            conn, cmd.user_id, "deposit", cmd.deposit_id, cmd.amount_cents
        )
        await add_event(
            conn, OUTBOX, cmd.user_id,
            FundsDeposited(
                user_id=cmd.user_id, deposit_id=cmd.deposit_id,
                amount_cents=cmd.amount_cents, balance_cents=balance,
            ),
            _request_id(),
        )
    deps.outbox.wake()
    return DepositResult(
        deposit_id=cmd.deposit_id, amount_cents=cmd.amount_cents, balance_cents=balance
    )


# --- the money steps of the purchase saga ----------------------------------------------
# Each is one local transaction on the user's row (one shard), keyed by the purchase id:
# the ledger row is unique per (user, kind, purchase), so a redelivered or resent step
# answers what it did the first time and moves no money twice.


async def debit(cmd: DebitFunds, deps: Deps) -> FundsMoved:
    """Take the price from the buyer; over the balance, refuse and move nothing."""
    moved = await _move_once(deps, cmd.user_id, "debit", cmd.purchase_id, -cmd.amount_cents)
    if moved.amount is None:
        raise Refusal(
            ErrorCode.INSUFFICIENT_FUNDS, "the balance does not cover the price",
            {"balance": moved.balance, "price": cmd.amount_cents},
        )
    return _moved(cmd, moved.amount, moved.balance or 0)


async def credit(cmd: CreditFunds, deps: Deps) -> FundsMoved:
    """Pay the seller."""
    moved = await _move_once(deps, cmd.user_id, "credit", cmd.purchase_id, cmd.amount_cents)
    assert moved.amount is not None, "a credit is never refused"
    return _moved(cmd, moved.amount, moved.balance or 0)


async def _move_once(deps: Deps, user_id: int, kind: str, ref: UUID, delta: int) -> repo.Movement:
    """One round trip in the common case; a concurrent duplicate is looked up again.

    The same step delivered twice at once: the loser either violates the ledger's
    unique key (run again: it finds the winner's row), or, for a debit, sees the
    balance the winner left and looks refused, while its snapshot cannot see the
    winner's ledger row. So a refusal is confirmed by a fresh read of the ledger
    before it is answered: a debit that happened is never reported as refused."""
    for _ in range(3):
        async with deps.db.connection() as conn:
            try:
                moved = await repo.move_money_once(conn, user_id, kind, ref, delta)
            except asyncpg.UniqueViolationError:
                continue  # the other delivery won: its row is visible to the next try
            if moved.amount is None and moved.balance is not None:
                done = await repo.find_ledger_entry(conn, user_id, kind, ref)
                if done is not None:
                    return repo.Movement(False, done["amount"], done["balance_after"])
        if moved.balance is None:
            raise Refusal(ErrorCode.USER_NOT_FOUND, "no such user")
        return moved
    raise RuntimeError(f"{kind} {ref}: the ledger row keeps conflicting")


async def refund(cmd: RefundFunds, deps: Deps) -> FundsMoved:
    """Pay back what this purchase debited; when it debited nothing (the debit was refused
    or never arrived), a no-op answer with amount 0, so compensation can always finish."""
    async with deps.db.transaction() as conn:
        user = await repo.lock_user(conn, cmd.user_id)
        if user is None:
            raise Refusal(ErrorCode.USER_NOT_FOUND, "no such user")
        previous = await repo.find_ledger_entry(conn, cmd.user_id, "refund", cmd.purchase_id)
        if previous is not None:
            return _moved(cmd, previous["amount"], previous["balance_after"])
        debited = await repo.find_ledger_entry(conn, cmd.user_id, "debit", cmd.purchase_id)
        if debited is None:
            return _moved(cmd, 0, user["balance"])
        balance = await repo.move_money(
            conn, cmd.user_id, "refund", cmd.purchase_id, debited["amount"]
        )
    return _moved(cmd, debited["amount"], balance)


def _moved(cmd: DebitFunds | CreditFunds | RefundFunds, amount: int, balance: int) -> FundsMoved:
    return FundsMoved(
        purchase_id=cmd.purchase_id, user_id=cmd.user_id, amount_cents=amount,
        balance_cents=balance,
    )


HANDLERS = {
    Register: register,
    Login: login,
    GetUser: get_user,
    Deposit: deposit,
    DebitFunds: debit,
    CreditFunds: credit,
    RefundFunds: refund,
}


def bootstrap(deps: Deps) -> dict[type[Message], Handler]:
    """Bind every handler to the worker's dependencies."""
    return {message: partial(handler, deps=deps) for message, handler in HANDLERS.items()}


