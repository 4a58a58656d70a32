"""Talking to RabbitMQ the way a worker's peer would: publish contracts straight to the
commands exchange, collect the replies, and make throwaway vhosts for tests that need
a broker of their own (a gateway with no worker behind it, a process to cut off)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from urllib.parse import quote

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage

from broker.codec import decode_body, encode, envelope_for
from broker.topology import COMMANDS_EXCHANGE
from contracts import Message
from contracts.envelope import Envelope
from tests.support import env


@contextmanager
def scratch_vhost(purpose: str) -> Iterator[str]:
    """A vhost of its own for one test (created now, deleted after); yields its AMQP URL."""
    name = f"{env.VHOST}.{purpose}.{uuid.uuid4().hex[:8]}"
    created = env.rabbitmqctl("-q", "add_vhost", name)
    if created.returncode != 0:
        raise RuntimeError(f"cannot create vhost {name}: {created.stderr}")
    try:
        env.rabbitmqctl("-q", "set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        yield f"{env.AMQP_SERVER}/{quote(name, safe='')}"
    finally:
        env.rabbitmqctl("-q", "delete_vhost", name)


def command_message(
    message: Message,
    *,
    reply_to: str | None,
    envelope: Envelope | None = None,
    message_id: uuid.UUID | None = None,
    deadline: float | None = None,
) -> tuple[aio_pika.Message, Envelope]:
    """The AMQP message a caller would send for `message`, with a fresh correlation id."""
    if envelope is None:
        fields: dict[str, object] = {"correlation_id": uuid.uuid4().hex, "deadline": deadline}
        if message_id is not None:
            fields["message_id"] = message_id
        envelope = envelope_for(message, request_id=f"test-{uuid.uuid4().hex[:8]}", **fields)
    return encode(message, envelope, reply_to=reply_to), envelope


class ReplyInbox:
    """An exclusive queue that collects replies by correlation id."""

    def __init__(self, channel: AbstractChannel):
        self.channel = channel
        self.name = ""
        self.replies: dict[str, list[AbstractIncomingMessage]] = {}
        self._arrived = asyncio.Condition()

    async def open(self) -> ReplyInbox:
        queue = await self.channel.declare_queue(exclusive=True, auto_delete=True)
        self.name = queue.name
        await queue.consume(self._on_reply, no_ack=True)
        return self

    async def _on_reply(self, incoming: AbstractIncomingMessage) -> None:
        async with self._arrived:
            self.replies.setdefault(incoming.correlation_id or "", []).append(incoming)
            self._arrived.notify_all()

    async def wait(self, correlation_id: str, count: int = 1, timeout: float = 10) -> list[Message]:
        """The first `count` replies to `correlation_id`, decoded; TimeoutError if late."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(
                lambda: len(self.replies.get(correlation_id, [])) >= count
            )
        return [decode_body(m.type, m.body) for m in self.replies[correlation_id][:count]]

    def count(self, correlation_id: str) -> int:
        return len(self.replies.get(correlation_id, []))


@asynccontextmanager
async def amqp_channel(url: str) -> AsyncIterator[AbstractChannel]:
    """A connection and a confirm channel for the length of a test."""
    connection = await aio_pika.connect(url)
    try:
        yield await connection.channel(publisher_confirms=True, on_return_raises=True)
    finally:
        await connection.close()


async def send_command(
    channel: AbstractChannel, message: aio_pika.Message, routing_key: str
) -> None:
    """Publish to the commands exchange; the broker must route and confirm it."""
    exchange = await channel.get_exchange(COMMANDS_EXCHANGE, ensure=False)
    await exchange.publish(message, routing_key, mandatory=True, timeout=10)


async def queue_depth(channel: AbstractChannel, queue: str) -> int:
    """Messages ready in `queue` (not those delivered and awaiting an ack)."""
    declared = await channel.declare_queue(queue, passive=True)
    return declared.declaration_result.message_count or 0
