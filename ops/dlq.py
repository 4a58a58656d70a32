"""`itemx dlq`: list, inspect, re-drive and purge the dead-letter queues of the topology.

Inspecting loses nothing: messages are fetched unacknowledged and put back (nack with
requeue) once read; a quorum queue requeues them at its tail, which is harmless since
order carries no meaning in a dead-letter queue. Re-driving publishes each message
again, with its body, message id and properties, to where it came from (read from its
`x-death` header), waits for the broker's confirm, and only then acks it from the
dead-letter queue: a crash in between re-drives it twice, which applies nothing twice
because every handler dedupes by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import (
    AbstractChannel,
    AbstractConnection,
    AbstractIncomingMessage,
    AbstractQueue,
)

from broker.topology import EVENTS_EXCHANGE, TOPOLOGY, Topology

DROPPED_HEADERS = frozenset({"x-delivery-count"})
"""Per-queue bookkeeping: the queue a message is re-driven to keeps its own count."""


class DlqError(Exception):
    """The command cannot run as asked (unknown queue, missing queue); nothing changed."""


@dataclass(frozen=True)
class QueueCount:
    queue: str
    messages: int | None
    """None when the queue does not exist (the topology was never declared)."""
    consumers: int | None


@dataclass(frozen=True)
class DeadLetter:
    """A dead-lettered message as an operator needs to see it."""

    message_id: str | None
    type: str | None
    reason: str | None
    queue: str | None
    """The queue that dead-lettered it."""
    exchange: str | None
    routing_keys: tuple[str, ...]
    deaths: int
    died_at: datetime | None
    headers: dict[str, Any] = field(repr=False)
    body: bytes = field(repr=False)

    def preview(self, size: int = 200) -> str:
        text = self.body[:size].decode("utf-8", errors="replace")
        return text + ("…" if len(self.body) > size else "")

    def target(self) -> tuple[str, str]:
        """Where to re-drive: the original exchange and routing key. An event's original
        exchange fans out to every subscriber and the stream, so an event goes back only
        to the queue that failed it (default exchange), not to all of them again."""
        if self.exchange == EVENTS_EXCHANGE and self.queue:
            return "", self.queue
        if self.exchange is None or not self.routing_keys:
            raise DlqError(f"message {self.message_id} has no x-death: origin unknown")
        return self.exchange, self.routing_keys[0]


@dataclass
class RedriveResult:
    redriven: list[tuple[str | None, str, str]] = field(default_factory=list)
    """(message id, exchange, routing key) of each message re-driven."""
    kept: list[tuple[str | None, str]] = field(default_factory=list)
    """(message id, why) of each message left in the dead-letter queue."""


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def dead_letter_of(message: AbstractIncomingMessage) -> DeadLetter:
    headers = dict(message.headers or {})
    deaths = headers.get("x-death")
    latest: dict[str, Any] = deaths[0] if isinstance(deaths, list) and deaths else {}
    keys = latest.get("routing-keys") or []
    died_at = latest.get("time")
    return DeadLetter(
        message_id=message.message_id,
        type=message.type,
        reason=_text(latest.get("reason")),
        queue=_text(latest.get("queue")),
        exchange=_text(latest.get("exchange")) if latest else None,
        routing_keys=tuple(_text(key) or "" for key in keys),
        deaths=int(latest.get("count", 0) or 0),
        died_at=died_at if isinstance(died_at, datetime) else None,
        headers=headers,
        body=message.body,
    )


def check_queue(queue: str, topology: Topology = TOPOLOGY) -> None:
    """Only dead-letter queues: purging or draining a live queue by a typo would hurt."""
    known = topology.dead_letter_queues
    if queue not in known:
        raise DlqError(f"{queue} is not a dead-letter queue; known: {', '.join(known)}")


async def list_counts(url: str, topology: Topology = TOPOLOGY) -> list[QueueCount]:
    counts = []
    connection = await aio_pika.connect(url)
    async with connection:
        for name in topology.dead_letter_queues:
            counts.append(await _count(connection, name))
    return counts


async def _count(connection: AbstractConnection, name: str) -> QueueCount:
    channel = await connection.channel()  # a failed passive declare closes its channel
    try:
        queue = await channel.declare_queue(name, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        return QueueCount(name, None, None)
    result = queue.declaration_result
    await channel.close()
    return QueueCount(name, result.message_count, result.consumer_count)


async def show(url: str, queue: str, limit: int) -> list[DeadLetter]:
    """The first `limit` messages, left in the queue (requeued in the order read)."""
    check_queue(queue)
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        held = await _fetch(channel, queue, limit)
        for message in held:
            await message.nack(requeue=True)
    return [dead_letter_of(message) for message in held]


async def redrive(url: str, queue: str, limit: int | None) -> RedriveResult:
    """Re-drive up to `limit` messages (all that are there now when None); a message that
    fails again while this runs comes back behind them and is not re-driven twice."""
    check_queue(queue)
    result = RedriveResult()
    connection = await aio_pika.connect(url)
    async with connection:
        source = await connection.channel()
        target = await connection.channel(publisher_confirms=True, on_return_raises=True)
        dead_letters = await _existing(source, queue)
        waiting = dead_letters.declaration_result.message_count
        count = waiting if limit is None else min(limit, waiting)
        kept: list[AbstractIncomingMessage] = []
        for _ in range(count):
            message = await dead_letters.get(no_ack=False, fail=False)
            if message is None:
                break
            dead = dead_letter_of(message)
            try:
                exchange, routing_key = dead.target()
                await _publish(target, message, exchange, routing_key)
            except (DlqError, aio_pika.exceptions.AMQPError, TimeoutError) as exc:
                kept.append(message)  # held unacked until the end, so it is not fetched again
                result.kept.append((dead.message_id, str(exc) or type(exc).__name__))
                if target.is_closed:  # an unknown exchange closes the channel
                    target = await connection.channel(
                        publisher_confirms=True, on_return_raises=True
                    )
                continue
            await message.ack()
            result.redriven.append((dead.message_id, exchange, routing_key))
        for message in kept:
            await message.nack(requeue=True)
    return result


async def purge(url: str, queue: str) -> int:
    """Delete every message of a dead-letter queue; return how many there were."""
    check_queue(queue)
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        dead_letters = await _existing(channel, queue)
        purged = await dead_letters.purge()
    return int(purged.message_count or 0)


async def _existing(channel: AbstractChannel, queue: str) -> AbstractQueue:
    """The queue, passively declared (so its count is fresh); DlqError when it is missing."""
    try:
        return await channel.declare_queue(queue, passive=True)
    except aiormq.exceptions.ChannelNotFoundEntity:
        raise DlqError(f"{queue} does not exist: declare the topology (itemx topology)") from None


async def _fetch(channel: AbstractChannel, queue: str, limit: int) -> list[AbstractIncomingMessage]:
    dead_letters = await _existing(channel, queue)
    held = []
    while len(held) < limit:
        message = await dead_letters.get(no_ack=False, fail=False)
        if message is None:
            break
        held.append(message)
    return held


async def _publish(
    channel: AbstractChannel, message: AbstractIncomingMessage, exchange: str, routing_key: str
) -> None:
    """The same message again: body, id, type, headers and properties (not the user id,
    which the broker checks against the publishing connection)."""
    headers = {k: v for k, v in (message.headers or {}).items() if k not in DROPPED_HEADERS}
    again = aio_pika.Message(
        message.body,
        headers=headers,
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        delivery_mode=message.delivery_mode,
        priority=message.priority,
        correlation_id=message.correlation_id,
        reply_to=message.reply_to,
        expiration=message.expiration,
        message_id=message.message_id,
        timestamp=message.timestamp,
        type=message.type,
        app_id=message.app_id,
    )
    target = (
        channel.default_exchange if exchange == "" else await channel.get_exchange(exchange)
    )
    await target.publish(again, routing_key, mandatory=True, timeout=10)
