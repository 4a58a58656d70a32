"""An echo service for testing the RPC client and the consumer on their own: contracts
under `test.*` names (never routed in production) and a worker built from the real
Consumer, whose handler can hold every call until the test lets them go."""

from __future__ import annotations

import asyncio
from typing import ClassVar

from aio_pika.abc import AbstractConnection, ExchangeType

from broker.connection import BrokerConnection
from broker.consumer import Consumer
from broker.publisher import Publisher
from broker.topology import COMMANDS_EXCHANGE
from contracts import Command, Message, Query, Reply

ECHO_QUEUE = "test.echo"


class Echoed(Reply):
    """Example: {"nonce": "17"}"""

    name: ClassVar[str] = "test.echoed"

    nonce: str


class Echo(Query):
    """Answer the nonce back. Example: {"nonce": "17"}"""

    name: ClassVar[str] = "test.echo"
    reply: ClassVar[type[Reply]] = Echoed

    nonce: str


class EchoCommand(Command):
    """The same as a confirmed, persistent command. Example: {"nonce": "17"}"""

    name: ClassVar[str] = "test.echo_command"
    reply: ClassVar[type[Reply]] = Echoed

    nonce: str


class EchoWorker:
    """A worker process in miniature: a connection, a publisher for replies, a Consumer.

    While `hold` is set, each handler waits for `release` before answering, so a test can
    have every call in flight at the same moment.
    """

    def __init__(self, amqp_url: str, *, prefetch: int = 64, hold: bool = False):
        self.broker = BrokerConnection(amqp_url, name="itemx-test-echo-worker")
        self.broker.on_connect(self._declare)
        self.publisher = Publisher(self.broker)
        self.consumer = Consumer(
            self.broker, self.publisher, ECHO_QUEUE,
            {Echo: self._echo, EchoCommand: self._echo}, service="echo", prefetch=prefetch,
        )
        self.hold = hold
        self.received = 0
        self.release = asyncio.Event()
        self._arrivals = asyncio.Condition()

    async def _declare(self, connection: AbstractConnection) -> None:
        async with connection.channel() as channel:
            exchange = await channel.declare_exchange(
                COMMANDS_EXCHANGE, ExchangeType.DIRECT, durable=True
            )
            queue = await channel.declare_queue(ECHO_QUEUE, durable=True)
            for message in (Echo, EchoCommand):
                await queue.bind(exchange, routing_key=message.name)

    async def _echo(self, message: Message) -> Reply:
        assert isinstance(message, Echo | EchoCommand)
        async with self._arrivals:
            self.received += 1
            self._arrivals.notify_all()
        if self.hold:
            await self.release.wait()
        return Echoed(nonce=message.nonce)

    async def wait_received(self, count: int, timeout: float = 30) -> None:
        async with asyncio.timeout(timeout), self._arrivals:
            await self._arrivals.wait_for(lambda: self.received >= count)

    async def start(self) -> EchoWorker:
        await self.broker.start(wait=10)
        assert self.broker.is_connected, "the echo worker could not connect"
        return self

    async def stop(self) -> None:
        self.release.set()
        await self.consumer.stop(grace=5)
        await self.broker.close()
