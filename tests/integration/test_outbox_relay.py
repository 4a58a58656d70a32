"""The outbox relay: events wait in the table while the broker is unreachable and all
arrive once it is back; a row is marked published only after the broker accepted it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage, ExchangeType

from broker.connection import BrokerConnection
from broker.outbox import OutboxRelay, add_event
from broker.publisher import Publisher
from broker.topology import EVENTS_EXCHANGE
from contracts.accounts import Deposit, Register
from contracts.events import FundsDeposited
from ops.migrate import migrate
from tests.support.amqp import scratch_vhost
from tests.support.databases import scratch_database
from tests.support.tcpproxy import TcpProxy
from tests.support.users import PASSWORD, unique_name
from tests.support.waiting import wait_until
from workers.accounts import handlers
from workers.common.db import Database

OUTBOX = handlers.OUTBOX


@pytest.fixture(scope="module")
async def database() -> AsyncIterator[Database]:
    """A migrated database of its own: no session worker's relay competes for its rows."""
    async with scratch_database("outbox") as url:
        await migrate(url)
        db = await Database.connect(url, min_size=1, max_size=4)
        try:
            yield db
        finally:
            await db.close()


@pytest.fixture(scope="module")
def events_vhost() -> Iterator[str]:
    with scratch_vhost("outbox") as url:
        yield url


class EventTap:
    """A queue of the test's own, bound to `itemx.events`, recording what arrives."""

    def __init__(self, url: str, pattern: str):
        self.url = url
        self.pattern = pattern
        self.event_ids: list[str] = []
        self._connection: aio_pika.abc.AbstractRobustConnection | None = None

    async def open(self) -> EventTap:
        self._connection = await aio_pika.connect(self.url)
        channel = await self._connection.channel()
        exchange = await channel.declare_exchange(EVENTS_EXCHANGE, ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key=self.pattern)
        await queue.consume(self._on_event, no_ack=True)
        return self

    async def _on_event(self, incoming: AbstractIncomingMessage) -> None:
        self.event_ids.append(str(incoming.message_id))

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()


async def unpublished(db: Database, event_ids: list[str]) -> int:
    async with db.connection() as conn:
        return await conn.fetchval(
            f"SELECT count(*) FROM {OUTBOX} WHERE published_at IS NULL"  # noqa: S608
            " AND event_id = ANY($1::uuid[])",
            event_ids,
        )


async def outbox_event_ids(db: Database, user_id: int) -> list[str]:
    async with db.connection() as conn:
        rows = await conn.fetch(
            f"SELECT event_id FROM {OUTBOX} WHERE key = $1 AND type = $2",  # noqa: S608
            user_id, FundsDeposited.name,
        )
    return [str(row["event_id"]) for row in rows]


def refusals(caplog: pytest.LogCaptureFixture) -> int:
    """How many relay rounds failed to hand their batch to the broker so far."""
    return sum("not accepting events" in r.getMessage() for r in caplog.records)


async def test_events_written_during_an_outage_all_arrive_after_it(
    database: Database, amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="broker.outbox")
    proxy = TcpProxy.for_url(amqp_url).start()
    broker = BrokerConnection(proxy.url(amqp_url), name="itemx-test-outbox", max_interval=0.5)
    relay = OutboxRelay(database.pool, Publisher(broker), OUTBOX, poll_interval=0.2)
    deps = handlers.Deps(db=database, outbox=relay, bcrypt_rounds=4)
    tap = await EventTap(amqp_url, FundsDeposited.name).open()
    try:
        await broker.start(wait=10)
        relay.start()
        name = unique_name("outbox")
        user = await handlers.register(
            Register(register_id=uuid.uuid4(), username=name, email=f"{name}@example.com",
                     password=PASSWORD),
            deps,
        )

        async def deposit(cents: int) -> None:
            await handlers.deposit(
                Deposit(user_id=user.id, deposit_id=uuid.uuid4(), amount_cents=cents), deps
            )

        await deposit(100)
        (first,) = await outbox_event_ids(database, user.id)
        await wait_until(
            lambda: _arrived(tap, [first]), 10, "the first event, before the outage"
        )

        proxy.cut()
        await wait_until(_false(broker), 10, "the relay's link to drop")
        published_before = relay.published
        for cents in range(1, 21):
            await deposit(cents)
        during = [e for e in await outbox_event_ids(database, user.id) if e != first]
        assert len(during) == 20
        failed_rounds = refusals(caplog)
        await wait_until(
            lambda: _at_least(refusals(caplog), failed_rounds + 3), 15,
            "the relay trying (and failing) to publish during the outage",
        )
        assert await unpublished(database, during) == 20
        assert relay.published == published_before
        assert not set(during) & set(tap.event_ids)

        proxy.restore()
        await wait_until(lambda: _arrived(tap, during), 20, "every event of the outage")
        await wait_until(
            lambda: _none_unpublished(database, during), 10, "the rows marked published"
        )
        assert tap.event_ids.count(first) == 1
        assert relay.published == published_before + 20
    finally:
        await relay.stop()
        await broker.close()
        await tap.close()
        proxy.stop()


async def test_a_row_is_marked_published_only_once_the_broker_routed_it(
    database: Database, events_vhost: str, caplog: pytest.LogCaptureFixture
) -> None:
    """With nothing bound to `itemx.events` the broker returns the event (mandatory): the
    row must stay pending, and go out once a queue is bound."""
    caplog.set_level(logging.INFO, logger="broker.outbox")
    async with await aio_pika.connect(events_vhost) as connection:
        channel = await connection.channel()
        await channel.declare_exchange(EVENTS_EXCHANGE, ExchangeType.TOPIC, durable=True)
    broker = BrokerConnection(events_vhost, name="itemx-test-outbox-unrouted")
    relay = OutboxRelay(database.pool, Publisher(broker), OUTBOX, poll_interval=0.2)
    event = FundsDeposited(
        user_id=2**40, deposit_id=uuid.uuid4(), amount_cents=1, balance_cents=1
    )
    event_id = str(event.event_id)
    async with database.transaction() as conn:
        await add_event(conn, OUTBOX, event.user_id, event, "test-unrouted")
    tap = EventTap(events_vhost, FundsDeposited.name)
    try:
        await broker.start(wait=10)
        relay.start()
        await wait_until(
            lambda: _at_least(refusals(caplog), 3), 15, "the broker returning the event"
        )
        assert any("unroutable" in r.getMessage() for r in caplog.records)
        assert await unpublished(database, [event_id]) == 1
        assert relay.published == 0

        await tap.open()
        await wait_until(lambda: _arrived(tap, [event_id]), 10, "the event, once bound")
        await wait_until(
            lambda: _none_unpublished(database, [event_id]), 10, "the row marked published"
        )
        assert relay.published == 1
    finally:
        await relay.stop()
        await broker.close()
        await tap.close()


async def _arrived(tap: EventTap, event_ids: list[str]) -> bool:
    return set(event_ids) <= set(tap.event_ids)


async def _at_least(value: int, minimum: int) -> bool:
    return value >= minimum


def _false(broker: BrokerConnection) -> Callable[[], Awaitable[bool]]:
    async def disconnected() -> bool:
        return not broker.is_connected

    return disconnected


async def _none_unpublished(db: Database, event_ids: list[str]) -> bool:
    return await unpublished(db, event_ids) == 0
