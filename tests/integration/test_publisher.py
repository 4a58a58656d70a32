"""The publisher against a real broker: a message nobody can receive is an error for the
caller, never a silent drop, and one refused publish does not break the next ones."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue

from broker.codec import to_amqp
from broker.connection import BrokerConnection
from broker.publisher import Publisher, PublishFailed
from broker.topology import EVENTS_EXCHANGE
from contracts.envelope import Envelope
from tests.support.waiting import wait_until


@pytest.fixture
async def publisher(amqp_url: str) -> AsyncIterator[Publisher]:
    broker = BrokerConnection(amqp_url, name="itemx-test-publisher")
    publisher = Publisher(broker)
    await broker.start(wait=10)
    assert broker.is_connected
    yield publisher
    await broker.close()


@pytest.fixture
async def tap(amqp_url: str) -> AsyncIterator[tuple[str, list[AbstractIncomingMessage]]]:
    """A queue bound to `itemx.events` under a routing key of this test's own."""
    routing_key = f"test.publisher.{uuid.uuid4().hex}"
    received: list[AbstractIncomingMessage] = []
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    queue: AbstractQueue = await channel.declare_queue(exclusive=True, auto_delete=True)
    await queue.bind(EVENTS_EXCHANGE, routing_key=routing_key)

    async def keep(message: AbstractIncomingMessage) -> None:
        received.append(message)

    await queue.consume(keep, no_ack=True)
    yield routing_key, received
    await connection.close()


def event_message() -> aio_pika.Message:
    return to_amqp(b'{"test": true}', Envelope(type="test.published"))


async def test_a_publish_to_a_missing_exchange_fails_and_the_next_one_works(
    publisher: Publisher, tap: tuple[str, list[AbstractIncomingMessage]]
) -> None:
    routing_key, received = tap
    with pytest.raises(PublishFailed, match="no_such_exchange"):
        await publisher.publish_raw("itemx.no_such_exchange", routing_key, event_message())
    sent = [event_message() for _ in range(3)]
    for message in sent:
        await publisher.publish_raw(EVENTS_EXCHANGE, routing_key, message)

    async def delivered() -> bool:
        return len(received) == 3

    await wait_until(delivered, 10, "the events published after the refused one")
    assert [m.message_id for m in received] == [m.message_id for m in sent]


async def test_an_unroutable_message_is_an_error(publisher: Publisher) -> None:
    with pytest.raises(PublishFailed, match="unroutable"):
        await publisher.publish_raw("", f"test.no_such_queue.{uuid.uuid4().hex}", event_message())
