"""The whole RabbitMQ topology of ItemExchange, as values: read this file to know where
every message goes.

- Commands and queries go to the direct exchange `itemx.commands`, routing key = the
  message name. Each service has a durable **quorum** queue `<service>.commands` for
  commands (persistent, confirmed, delivery limit, dead-lettered to
  `<service>.commands.dlq`) and a classic queue `<service>.queries` for reads
  (transient, short expiry: losing one only costs a retry).
- Events go to the topic exchange `itemx.events`, routing key = the event name; the
  stream `itemx.events.log` keeps every event for replay; subscribers own queues.
- Every process declares the topology at start; declaring twice is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aio_pika
from aio_pika.abc import AbstractChannel, ExchangeType

from contracts import Command, Message, Query
from contracts import accounts as accounts_contracts
from contracts import products as products_contracts
from contracts import reports as reports_contracts
from contracts import transactions as transactions_contracts
from contracts.events import PurchaseCompleted

COMMANDS_EXCHANGE = "itemx.commands"
EVENTS_EXCHANGE = "itemx.events"
DEAD_LETTER_EXCHANGE = "itemx.dlx"
EVENTS_LOG_STREAM = "itemx.events.log"

DELIVERY_LIMIT = 5
"""A command redelivered this many times (crashing handler, poison body) is dead-lettered."""

QUERY_TTL_MS = 10_000
"""Queries not picked up within this time are dropped: their caller has given up."""

STREAM_MAX_BYTES = 2_000_000_000
STREAM_MAX_AGE = "30D"


@dataclass(frozen=True)
class ServiceQueues:
    """A service's command queue (quorum, dead-lettered) and query queue (classic)."""

    service: str
    messages: tuple[type[Message], ...]

    @property
    def commands(self) -> str:
        return f"{self.service}.commands"

    @property
    def queries(self) -> str:
        return f"{self.service}.queries"

    @property
    def dead_letters(self) -> str:
        return f"{self.commands}.dlq"


@dataclass(frozen=True)
class EventSubscription:
    """A durable quorum queue of one subscriber, bound to event names (topic patterns)."""

    queue: str
    patterns: tuple[str, ...]
    dead_letter: bool = True

    @property
    def dead_letters(self) -> str:
        return f"{self.queue}.dlq"


@dataclass(frozen=True)
class Topology:
    services: tuple[ServiceQueues, ...]
    subscriptions: tuple[EventSubscription, ...] = field(default=())

    def service_of(self, message: type[Message]) -> ServiceQueues:
        for service in self.services:
            if message in service.messages:
                return service
        raise LookupError(f"no queue routes {message.__name__} ({message.name})")

    def queue_for(self, message: type[Message]) -> str:
        service = self.service_of(message)
        return service.queries if issubclass(message, Query) else service.commands

    @property
    def dead_letter_queues(self) -> list[str]:
        return (
            [s.dead_letters for s in self.services]
            + [s.dead_letters for s in self.subscriptions if s.dead_letter]
        )


ACCOUNTS = ServiceQueues(
    "accounts",
    (
        accounts_contracts.Register,
        accounts_contracts.Login,
        accounts_contracts.GetUser,
        accounts_contracts.Deposit,
        accounts_contracts.DebitFunds,
        accounts_contracts.CreditFunds,
        accounts_contracts.RefundFunds,
    ),
)

PRODUCTS = ServiceQueues(
    "products",
    (
        products_contracts.ReserveItem,
        products_contracts.ReleaseItem,
        products_contracts.MarkItemSold,
        products_contracts.ListItemForSale,
        products_contracts.UpdateItem,
        products_contracts.DeleteItem,
        products_contracts.GetItem,
        products_contracts.BrowseItems,
        products_contracts.GetSellerItems,
        products_contracts.SearchItems,
    ),
)

TRANSACTIONS = ServiceQueues(
    "transactions",
    (
        transactions_contracts.PurchaseItem,
        transactions_contracts.GetPurchase,
        transactions_contracts.ListPurchases,
        transactions_contracts.ListSales,
        reports_contracts.GetReport,
    ),
)

REPORTS = EventSubscription("transactions.reports", (PurchaseCompleted.name,))
"""The reports read model's own queue: completed purchases, applied once by event id."""

TOPOLOGY = Topology(
    services=(ACCOUNTS, PRODUCTS, TRANSACTIONS),
    subscriptions=(REPORTS,),
)


def routing_key(message: type[Message] | Message) -> str:
    """A command's or event's routing key is its name."""
    return message.name


def _quorum_arguments(dead_letter_queue: str) -> dict[str, object]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": DELIVERY_LIMIT,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": dead_letter_queue,
    }


async def declare(channel: AbstractChannel, topology: Topology = TOPOLOGY) -> None:
    """Declare every exchange, queue, binding, dead-letter queue and the event stream."""
    commands = await channel.declare_exchange(
        COMMANDS_EXCHANGE, ExchangeType.DIRECT, durable=True
    )
    events = await channel.declare_exchange(EVENTS_EXCHANGE, ExchangeType.TOPIC, durable=True)
    dlx = await channel.declare_exchange(DEAD_LETTER_EXCHANGE, ExchangeType.DIRECT, durable=True)

    for dead_letters in topology.dead_letter_queues:
        queue = await channel.declare_queue(
            dead_letters, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await queue.bind(dlx, routing_key=dead_letters)

    for service in topology.services:
        command_queue = await channel.declare_queue(
            service.commands, durable=True, arguments=_quorum_arguments(service.dead_letters)
        )
        query_queue = await channel.declare_queue(
            service.queries,
            durable=True,
            # no dead-lettering: an expired or undecodable query is worth nothing to keep
            arguments={"x-message-ttl": QUERY_TTL_MS},
        )
        for message in service.messages:
            if issubclass(message, Query):
                await query_queue.bind(commands, routing_key=routing_key(message))
            elif issubclass(message, Command):
                await command_queue.bind(commands, routing_key=routing_key(message))

    for subscription in topology.subscriptions:
        arguments: dict[str, object] = {"x-queue-type": "quorum"}
        if subscription.dead_letter:
            arguments = _quorum_arguments(subscription.dead_letters)
        queue = await channel.declare_queue(subscription.queue, durable=True, arguments=arguments)
        for pattern in subscription.patterns:
            await queue.bind(events, routing_key=pattern)

    stream = await channel.declare_queue(
        EVENTS_LOG_STREAM,
        durable=True,
        arguments={
            "x-queue-type": "stream",
            "x-max-length-bytes": STREAM_MAX_BYTES,
            "x-max-age": STREAM_MAX_AGE,
        },
    )
    await stream.bind(events, routing_key="#")


async def declare_with(url: str, topology: Topology = TOPOLOGY) -> None:
    """Declare the topology over a short-lived connection (used by the CLI and tests)."""
    connection = await aio_pika.connect(url)
    async with connection:
        await declare(await connection.channel(), topology)
