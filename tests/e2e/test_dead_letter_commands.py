"""A poison command dead-lettered by the real accounts worker, then re-driven by
`ops.dlq` to its original exchange and routing key (from `x-death`): the worker refuses
it again, so it comes back with two deaths, and nothing else is touched."""

from __future__ import annotations

import uuid

import aio_pika
import httpx

from broker.topology import ACCOUNTS, COMMANDS_EXCHANGE
from contracts.accounts import Deposit
from ops import dlq
from tests.support.reports import eventually


async def dead_letter(amqp_url: str, message_id: str) -> dlq.DeadLetter | None:
    for letter in await dlq.show(amqp_url, ACCOUNTS.dead_letters, limit=1000):
        if letter.message_id == message_id:
            return letter
    return None


async def test_a_poison_command_is_redriven_to_its_original_exchange(
    api: httpx.AsyncClient, amqp_url: str
) -> None:
    message_id = str(uuid.uuid4())
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.get_exchange(COMMANDS_EXCHANGE)
        await exchange.publish(
            aio_pika.Message(b'{"user_id": "not a number"', message_id=message_id,
                             type=Deposit.name, content_type="application/json"),
            Deposit.name, mandatory=True,
        )

    async def dead(deaths: int) -> bool:
        letter = await dead_letter(amqp_url, message_id)
        return letter is not None and letter.deaths == deaths

    await eventually(lambda: dead(1), what="the poison command dead-lettered")
    letter = await dead_letter(amqp_url, message_id)
    assert letter is not None
    assert (letter.reason, letter.queue) == ("rejected", ACCOUNTS.commands)
    assert letter.target() == (COMMANDS_EXCHANGE, Deposit.name)

    result = await dlq.redrive(amqp_url, ACCOUNTS.dead_letters, limit=None)
    assert (message_id, COMMANDS_EXCHANGE, Deposit.name) in result.redriven
    await eventually(lambda: dead(2), what="the re-driven command refused again")
