"""The worker of the bare-RPC baseline: the project's `Consumer` on `bench.queries`,
with the workers' prefetch, answering every `Ping` at once (no database).

    AMQP_URL=... BARE_RPC_WORKER_PORT=25006 python -m bench.baselines.bare_rpc_worker
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import uvloop
from aio_pika.abc import AbstractConnection

from bench.baselines.ping import BENCH_SERVICE, BENCH_TOPOLOGY, Ping, Pong
from broker import topology
from broker.connection import BrokerConnection, BrokerUnavailable
from broker.consumer import Consumer
from broker.publisher import Publisher
from contracts import Message
from workers.common import logs
from workers.common.health import health_app, serve
from workers.common.settings import WorkerSettings


async def pong(_: Message) -> Pong:
    return Pong()


async def serve_until_signalled(settings: WorkerSettings, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    broker = BrokerConnection(settings.amqp_url, name="itemx-bench-bare-rpc-worker")

    async def declare(connection: AbstractConnection) -> None:
        async with connection.channel() as channel:
            await topology.declare(channel, BENCH_TOPOLOGY)

    broker.on_connect(declare)
    publisher = Publisher(broker)
    consumer = Consumer(
        broker, publisher, BENCH_SERVICE.queries, {Ping: pong},
        service="bench", prefetch=settings.prefetch,
    )
    await broker.start(wait=30)

    async def check_broker() -> None:
        if not broker.is_connected:
            raise BrokerUnavailable("not connected to RabbitMQ")

    server, server_task = serve(health_app("bench", {"broker": check_broker}),
                                settings.bind_host, port)
    await stop.wait()
    await consumer.stop()
    await broker.close()
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(server_task, 5)


def main() -> None:
    settings = WorkerSettings()
    logs.configure(settings.log_level, "bench-rpc")
    port = int(os.environ.get("BARE_RPC_WORKER_PORT", "25006"))
    uvloop.run(serve_until_signalled(settings, port))


if __name__ == "__main__":
    main()
