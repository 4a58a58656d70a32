"""The worker runtime: what every worker process does around its handlers.

Connect to PostgreSQL and RabbitMQ, declare the topology, consume the service's
queues, relay its outbox, serve `/health` and `/metrics`, and stop gracefully on
SIGTERM: stop consuming, finish the messages in flight, then exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

import uvloop
from aio_pika.abc import AbstractConnection
from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_fixed

from broker import topology
from broker.connection import BrokerConnection, BrokerUnavailable
from broker.consumer import Consumer, Handler
from broker.outbox import OutboxRelay
from broker.publisher import Publisher
from contracts import Message
from workers.common import logs
from workers.common.db import Database, is_transient
from workers.common.health import health_app, serve
from workers.common.settings import WorkerSettings

log = logging.getLogger(__name__)


class BackgroundTask(Protocol):
    """A loop a worker runs beside its consumers (an outbox relay, the saga sweeper)."""

    def start(self) -> None: ...

    async def stop(self) -> None: ...


class Runtime:
    """The resources one worker process holds; handed to the worker's bootstrap."""

    def __init__(self, service: str, settings: WorkerSettings):
        self.service = service
        self.settings = settings
        self.broker = BrokerConnection(settings.amqp_url, name=f"itemx-{service}")
        self.broker.on_connect(self._declare_topology)
        self.publisher = Publisher(self.broker)
        self.consumers: list[Consumer] = []
        self.relays: list[OutboxRelay] = []
        self.tasks: list[BackgroundTask] = []
        self._db: Database | None = None
        self._read_db: Database | None = None

    @property
    def db(self) -> Database:
        assert self._db is not None, "the database is connected before bootstrap runs"
        return self._db

    @property
    def read_db(self) -> Database:
        """The read-only pool when DATABASE_READ_URL is set, else the primary."""
        return self._read_db or self.db

    async def _declare_topology(self, connection: AbstractConnection) -> None:
        async with connection.channel() as channel:
            await topology.declare(channel)

    def consume(self, queue: str, handlers: Mapping[type[Message], Handler]) -> Consumer:
        """Consume `queue` with `handlers`; a queue consumed twice (the saga's queries and the
        reports query share `transactions.queries`) gets one consumer with all the handlers,
        since a consumer dead-letters a message type it has no handler for."""
        for existing in self.consumers:
            if existing.queue_name == queue:
                existing.add_handlers(handlers)
                return existing
        consumer = Consumer(
            self.broker,
            self.publisher,
            queue,
            handlers,
            service=self.service,
            prefetch=self.settings.prefetch,
            is_transient=is_transient,
        )
        self.consumers.append(consumer)
        return consumer

    def outbox(self, table: str) -> OutboxRelay:
        relay = OutboxRelay(
            self.db.pool, self.publisher, table, poll_interval=self.settings.outbox_poll_seconds
        )
        self.relays.append(relay)
        return relay

    def background(self, task: BackgroundTask) -> BackgroundTask:
        """Run `task` once the broker is connected; stop it before the broker closes."""
        self.tasks.append(task)
        return task

    async def connect_database(self) -> None:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(is_transient), wait=wait_fixed(1), stop=stop_after_delay(60),
            reraise=True,
        ):
            with attempt:
                self._db = await Database.connect(
                    self.settings.database_url,
                    min_size=self.settings.db_pool_min,
                    max_size=self.settings.db_pool_max,
                )
        if self.settings.database_read_url:
            self._read_db = await Database.connect(
                self.settings.database_read_url, min_size=1, max_size=self.settings.db_pool_max
            )

    async def check_broker(self) -> None:
        if not self.broker.is_connected:
            raise BrokerUnavailable("not connected to RabbitMQ")

    async def start(self, bootstrap: Callable[[Runtime], Awaitable[None] | None]) -> None:
        await self.connect_database()
        outcome = bootstrap(self)
        if outcome is not None:
            await outcome
        await self.broker.start(wait=30)
        for relay in self.relays:
            relay.start()
        for task in self.tasks:
            task.start()
        app = health_app(self.service, {"database": self.db.ping, "broker": self.check_broker})
        self._server, self._server_task = serve(
            app, self.settings.bind_host, self.settings.port_of(self.service)
        )
        log.info("%s worker started (health on :%s)", self.service,
                 self.settings.port_of(self.service))

    async def stop(self) -> None:
        log.info("%s worker stopping: draining in-flight messages", self.service)
        await asyncio.gather(*(consumer.stop() for consumer in self.consumers))
        for task in self.tasks:
            await task.stop()
        for relay in self.relays:
            await relay.stop()
        await self.broker.close()
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server_task, 5)
        for db in (self._read_db, self._db):
            if db is not None:
                await db.close()
        log.info("%s worker stopped", self.service)


async def _serve_until_signalled(runtime: Runtime, bootstrap: Callable) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await runtime.start(bootstrap)
    await stop.wait()
    await runtime.stop()


def run_worker(service: str, bootstrap: Callable[[Runtime], Awaitable[None] | None]) -> None:
    """The entry point of every worker's `main.py`."""
    settings = WorkerSettings()
    logs.configure(settings.log_level, service)
    uvloop.run(_serve_until_signalled(Runtime(service, settings), bootstrap))
