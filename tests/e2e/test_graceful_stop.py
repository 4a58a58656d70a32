"""SIGTERM while messages are in flight: the worker stops taking new ones, finishes and
acks those it holds, answers their callers, then exits 0."""

from __future__ import annotations

import asyncio
import signal
import uuid
from pathlib import Path

import asyncpg

from broker.topology import ACCOUNTS
from contracts.accounts import Register, User
from tests.support import ports
from tests.support.amqp import (
    ReplyInbox,
    amqp_channel,
    command_message,
    queue_depth,
    scratch_vhost,
    send_command,
)
from tests.support.dedicated import dedicated_process, running
from tests.support.users import PASSWORD, unique_name
from tests.support.waiting import wait_until

SLOW_ROUNDS = "10"  # each registration hashes for a noticeable while (~0.3 s)
MESSAGES = 4


async def test_sigterm_finishes_and_acks_messages_in_flight_then_exits_0(
    service_env: dict[str, str], log_dir: Path, db: asyncpg.Connection
) -> None:
    with scratch_vhost("drain") as vhost:  # no other worker may take these messages
        worker = dedicated_process(
            "accounts", service_env, log_dir, ports.DRAINING_WORKER,
            AMQP_URL=vhost, BCRYPT_ROUNDS=SLOW_ROUNDS,
        )
        with running(worker):
            assert worker.process is not None
            async with amqp_channel(vhost) as channel:
                inbox = await ReplyInbox(channel).open()
                names = [unique_name("drain") for _ in range(MESSAGES)]
                correlations = []
                for name in names:
                    command = Register(
                        register_id=uuid.uuid4(), username=name,
                        email=f"{name}@example.com", password=PASSWORD,
                    )
                    message, envelope = command_message(command, reply_to=inbox.name)
                    await send_command(channel, message, command.name)
                    correlations.append(envelope.correlation_id or "")

                async def all_delivered() -> bool:  # none waiting: all with the worker
                    return await queue_depth(channel, ACCOUNTS.commands) == 0

                await wait_until(all_delivered, 10, "the worker holding every message")
                worker.process.send_signal(signal.SIGTERM)
                answered_at_sigterm = sum(inbox.count(c) for c in correlations)
                assert answered_at_sigterm < MESSAGES, "too fast: nothing was in flight"

                returncode = await asyncio.to_thread(worker.process.wait, 30)
                assert returncode == 0, worker.log_tail()
                replies = [(await inbox.wait(c, timeout=5))[0] for c in correlations]
                assert all(isinstance(reply, User) for reply in replies)
                assert [reply.username for reply in replies] == names  # type: ignore[union-attr]
                assert await queue_depth(channel, ACCOUNTS.commands) == 0  # acked, none requeued
        assert await db.fetchval(
            "SELECT count(*) FROM usernames WHERE username = ANY($1::text[])",
            [name.lower() for name in names],
        ) == MESSAGES
        assert "accounts worker stopped" in worker.log_tail(80)
