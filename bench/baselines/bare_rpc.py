"""The floor of any read through the broker: the gateway's HTTP layer and RPC client,
sending an empty query to a worker that answers at once (`bare_rpc_worker`).

Everything on the way is the gateway's own code — uvicorn settings, request-id
middleware, exception handlers, `endpoints.common.call` with the query timeout,
`RpcClient` over direct reply-to, `respond` — so `GET /api/items/{id}` minus this is
what the products worker and PostgreSQL add.

    AMQP_URL=... BARE_RPC_PORT=25005 python -m bench.baselines.bare_rpc    # GET /ping
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from aio_pika.abc import AbstractConnection
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api_gateway.app import RequestIdMiddleware
from api_gateway.endpoints.common import call, respond
from api_gateway.errors import EXCEPTION_HANDLERS
from api_gateway.settings import GatewaySettings
from bench.baselines.ping import BENCH_TOPOLOGY, Ping, Pong
from bench.baselines.serving import run
from broker import topology
from broker.connection import BrokerConnection
from broker.rpc import RpcClient


async def ping(request: Request) -> Response:
    pong: Pong = await call(request, Ping())
    return respond(pong)


async def health(request: Request) -> Response:
    broker: BrokerConnection = request.state.broker
    return Response(b"{}", 200 if broker.is_connected else 503, media_type="application/json")


def create_app(settings: GatewaySettings | None = None) -> Starlette:
    settings = settings or GatewaySettings()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, object]]:
        broker = BrokerConnection(settings.amqp_url, name="itemx-bench-bare-rpc")

        async def declare(connection: AbstractConnection) -> None:
            async with connection.channel() as channel:
                await topology.declare(channel, BENCH_TOPOLOGY)

        broker.on_connect(declare)
        rpc = RpcClient(broker, default_timeout=settings.rpc_timeout_seconds)
        await broker.start(wait=10)
        try:
            yield {"settings": settings, "broker": broker, "rpc": rpc}
        finally:
            await broker.close()

    return Starlette(
        routes=[Route("/ping", ping, methods=["GET"]), Route("/health", health, methods=["GET"])],
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )


if __name__ == "__main__":
    run(create_app(), "BARE_RPC_PORT", 25005)
