"""The accounts worker as its peers see it over RabbitMQ: a command delivered twice is
applied once, a poison message is dead-lettered without blocking the queue, a query
whose caller has gone is skipped, and /health and /metrics tell an operator so."""

from __future__ import annotations

import asyncio
import time
import uuid

import aio_pika
import asyncpg
import httpx
import pytest
from aio_pika.abc import AbstractIncomingMessage

from broker.topology import ACCOUNTS
from contracts import ErrorCode, ErrorReply
from contracts.accounts import Deposit, DepositResult, GetUser, Register, User
from tests.support import env
from tests.support.amqp import ReplyInbox, amqp_channel, command_message, send_command
from tests.support.metrics import sample_value
from tests.support.processes import Stack
from tests.support.users import PASSWORD, register, unique_name
from tests.support.waiting import wait_until

WORKER_URL = f"http://127.0.0.1:{env.PORTS['accounts']}"


async def test_the_same_deposit_delivered_twice_at_once_deposits_once(
    stack: Stack, api: httpx.AsyncClient, db: asyncpg.Connection, amqp_url: str
) -> None:
    user = await register(api, "dup")
    deposit = Deposit(user_id=int(user.id), deposit_id=uuid.uuid4(), amount_cents=1234)
    async with amqp_channel(amqp_url) as channel:
        inbox = await ReplyInbox(channel).open()
        message, envelope = command_message(deposit, reply_to=inbox.name)
        await asyncio.gather(
            send_command(channel, message, deposit.name),
            send_command(channel, message, deposit.name),
        )
        first, second = await inbox.wait(envelope.correlation_id or "", count=2)
    assert isinstance(first, DepositResult)
    assert first == second
    assert first.balance_cents == 1234
    assert await db.fetchval("SELECT balance FROM users WHERE id = $1", int(user.id)) == 1234
    assert await db.fetchval(
        "SELECT count(*) FROM ledger WHERE user_id = $1 AND ref = $2",
        int(user.id), deposit.deposit_id,
    ) == 1


async def test_a_redelivered_deposit_answers_the_first_result(
    stack: Stack, api: httpx.AsyncClient, db: asyncpg.Connection, amqp_url: str
) -> None:
    user = await register(api, "redel")
    deposit = Deposit(user_id=int(user.id), deposit_id=uuid.uuid4(), amount_cents=500)
    async with amqp_channel(amqp_url) as channel:
        inbox = await ReplyInbox(channel).open()
        message, envelope = command_message(deposit, reply_to=inbox.name)
        await send_command(channel, message, deposit.name)
        (first,) = await inbox.wait(envelope.correlation_id or "")
        other = Deposit(user_id=int(user.id), deposit_id=uuid.uuid4(), amount_cents=100)
        later, later_envelope = command_message(other, reply_to=inbox.name)
        await send_command(channel, later, other.name)
        await inbox.wait(later_envelope.correlation_id or "")
        await send_command(channel, message, deposit.name)  # the late duplicate
        _, again = await inbox.wait(envelope.correlation_id or "", count=2)
    assert again == first  # the balance of the first time, not today's 600
    assert await db.fetchval("SELECT balance FROM users WHERE id = $1", int(user.id)) == 600
    assert await db.fetchval("SELECT count(*) FROM ledger WHERE user_id = $1", int(user.id)) == 2


async def test_the_same_registration_delivered_twice_creates_one_user(
    stack: Stack, db: asyncpg.Connection, amqp_url: str
) -> None:
    username = unique_name("twice")
    command = Register(
        register_id=uuid.uuid4(), username=username, email=f"{username}@example.com",
        password=PASSWORD,
    )
    async with amqp_channel(amqp_url) as channel:
        inbox = await ReplyInbox(channel).open()
        message, envelope = command_message(command, reply_to=inbox.name)
        await send_command(channel, message, command.name)
        await send_command(channel, message, command.name)
        first, second = await inbox.wait(envelope.correlation_id or "", count=2)
    assert isinstance(first, User)
    assert first == second
    assert await db.fetchval(
        "SELECT count(*) FROM users WHERE lower(username) = lower($1)", username
    ) == 1


async def take_dead_letter(amqp_url: str, message_id: str) -> AbstractIncomingMessage:
    """Take the dead-lettered message with this id out of the DLQ (others stay there)."""
    found: list[AbstractIncomingMessage] = []

    async def scan() -> bool:
        async with amqp_channel(amqp_url) as channel:  # closing puts back what we skipped
            queue = await channel.get_queue(ACCOUNTS.dead_letters, ensure=False)
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                if message.message_id == message_id:
                    await message.ack()
                    found.append(message)
                    return True
        return False

    await wait_until(scan, 15, f"message {message_id} in {ACCOUNTS.dead_letters}")
    return found[0]


@pytest.mark.parametrize(
    ("type_name", "body"),
    [
        ("accounts.deposit", b"\x00 this is not json"),
        ("accounts.deposit", b'{"user_id": 1, "deposit_id": "nope", "amount_cents": -5}'),
        ("accounts.no_such_command", b"{}"),
        (None, b"{}"),
    ],
)
async def test_an_undecodable_command_is_dead_lettered_and_the_next_is_handled(
    stack: Stack, api: httpx.AsyncClient, db: asyncpg.Connection, amqp_url: str,
    type_name: str | None, body: bytes,
) -> None:
    user = await register(api, "poison")
    poison_id, poison_correlation = str(uuid.uuid4()), uuid.uuid4().hex
    async with amqp_channel(amqp_url) as channel:
        inbox = await ReplyInbox(channel).open()
        poison = aio_pika.Message(
            body, type=type_name, message_id=poison_id, correlation_id=poison_correlation,
            reply_to=inbox.name, delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await send_command(channel, poison, "accounts.deposit")
        deposit = Deposit(user_id=int(user.id), deposit_id=uuid.uuid4(), amount_cents=700)
        message, envelope = command_message(deposit, reply_to=inbox.name)
        await send_command(channel, message, deposit.name)

        (result,) = await inbox.wait(envelope.correlation_id or "")
        assert isinstance(result, DepositResult)
        (refusal,) = await inbox.wait(poison_correlation)
        assert isinstance(refusal, ErrorReply)
        assert refusal.code == ErrorCode.VALIDATION_ERROR

    dead = await take_dead_letter(amqp_url, poison_id)
    assert dead.body == body
    death = dead.headers["x-death"][0]
    assert death["reason"] == "rejected"
    assert death["queue"] == ACCOUNTS.commands
    assert await db.fetchval("SELECT balance FROM users WHERE id = $1", int(user.id)) == 700


async def test_a_query_past_its_deadline_is_skipped_and_acked(
    stack: Stack, api: httpx.AsyncClient, amqp_url: str
) -> None:
    user = await register(api, "late")
    expired_before = await sample_value(
        WORKER_URL, "itemx_messages_total", service="accounts", type=GetUser.name,
        outcome="expired",
    )
    async with amqp_channel(amqp_url) as channel:
        inbox = await ReplyInbox(channel).open()
        query = GetUser(user_id=int(user.id))
        gone, gone_envelope = command_message(query, reply_to=inbox.name, deadline=time.time() - 5)
        await send_command(channel, gone, query.name)
        live, live_envelope = command_message(query, reply_to=inbox.name, deadline=time.time() + 30)
        await send_command(channel, live, query.name)
        (answer,) = await inbox.wait(live_envelope.correlation_id or "")
        assert isinstance(answer, User)
        assert answer.id == int(user.id)

        async def skipped() -> bool:
            return await sample_value(
                WORKER_URL, "itemx_messages_total", service="accounts", type=GetUser.name,
                outcome="expired",
            ) == expired_before + 1

        await wait_until(skipped, 10, "the worker counts the expired query")
        await asyncio.sleep(0.5)  # a reply, if the worker had sent one, would be here by now
        assert inbox.count(gone_envelope.correlation_id or "") == 0
        queue = await channel.declare_queue(ACCOUNTS.queries, passive=True)
        assert queue.declaration_result.message_count == 0  # acked, not requeued


async def test_worker_health_names_its_checks(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=WORKER_URL, timeout=5) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "broker": "ok"}


async def test_worker_metrics_count_messages_and_time_handlers(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    before = await sample_value(
        WORKER_URL, "itemx_messages_total", service="accounts", type=Register.name, outcome="ok"
    )
    timed_before = await sample_value(
        WORKER_URL, "itemx_handler_seconds_count", service="accounts", type=Register.name
    )
    await register(api, "metric")
    assert await sample_value(
        WORKER_URL, "itemx_messages_total", service="accounts", type=Register.name, outcome="ok"
    ) == before + 1
    assert await sample_value(
        WORKER_URL, "itemx_handler_seconds_count", service="accounts", type=Register.name
    ) == timed_before + 1
    assert await sample_value(
        WORKER_URL, "itemx_handler_seconds_bucket", service="accounts", type=Register.name,
        le="+Inf",
    ) == timed_before + 1
