"""Driving the reports read model with real events: publish `purchase.completed` to
`itemx.events` as the outbox relay does, run the real reports consumer in the test's
process, and wait for the eventually consistent figures."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from uuid import uuid4

import aio_pika

from broker.codec import encode
from broker.connection import BrokerConnection
from broker.consumer import Consumer
from broker.publisher import Publisher
from broker.topology import EVENTS_EXCHANGE, REPORTS
from contracts import Event
from contracts.envelope import Envelope
from contracts.events import PurchaseCompleted
from workers.common.db import Database, is_transient
from workers.transactions import reports


def unique_user_id() -> int:
    """A user id no other test (nor a real registration) uses: reports keep no foreign key."""
    return 900_000_000_000 + secrets.randbelow(99_999_999_999)


def purchase(buyer: int, seller: int, cents: int, at: datetime) -> PurchaseCompleted:
    return PurchaseCompleted(
        occurred_at=at, purchase_id=uuid4(), transaction_id=f"{seller}-{secrets.randbelow(10**9)}",
        item_id=f"{seller}-{secrets.randbelow(10**9)}", seller_id=seller, buyer_id=buyer,
        amount_cents=cents,
    )


def event_message(event: Event) -> aio_pika.Message:
    """The AMQP message the outbox relay publishes for `event` (message id = event id)."""
    envelope = Envelope(
        message_id=event.event_id, type=event.name, version=event.version,
        occurred_at=event.occurred_at,
    )
    return encode(event, envelope)


async def publish(amqp_url: str, *messages: tuple[str, aio_pika.Message]) -> None:
    """Publish (routing key, message) pairs to `itemx.events` with confirms and mandatory."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        exchange = await channel.get_exchange(EVENTS_EXCHANGE)
        for routing_key, message in messages:
            await exchange.publish(message, routing_key, mandatory=True)


async def publish_events(amqp_url: str, *events: Event) -> None:
    await publish(amqp_url, *((event.name, event_message(event)) for event in events))


@asynccontextmanager
async def reports_consumer(amqp_url: str, db: Database) -> AsyncIterator[Consumer]:
    """The real consumer of `transactions.reports` with the real handlers, in this process
    (a transactions worker of the e2e stack may compete for messages: same handlers)."""
    broker = BrokerConnection(amqp_url, name="itemx-test-reports")
    publisher = Publisher(broker)
    deps = reports.Deps(db=db, read_db=db)
    consumer = Consumer(
        broker, publisher, REPORTS.queue, reports.bind(reports.EVENT_HANDLERS, deps),
        service="transactions", prefetch=16, is_transient=is_transient, retry_attempts=2,
    )
    await broker.start(wait=10)
    try:
        yield consumer
    finally:
        await consumer.stop()
        await broker.close()


async def eventually(
    check: Callable[[], Awaitable[bool]], timeout: float = 10.0, what: str = "condition"
) -> None:
    """Poll `check` until it holds: the read model is eventually consistent."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, f"{what} did not hold within {timeout}s"
        await asyncio.sleep(0.1)
