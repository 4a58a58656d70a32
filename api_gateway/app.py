"""The gateway application: the route table, the error handlers, the request-id
middleware, and a lifespan that holds the broker connection and the RPC client."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from contextvars import ContextVar

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api_gateway.auth import TokenService
from api_gateway.errors import EXCEPTION_HANDLERS
from api_gateway.openapi import build_document
from api_gateway.routes import ROUTES
from api_gateway.settings import GatewaySettings
from broker import topology
from broker.connection import BrokerConnection
from broker.rpc import RpcClient

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")
"""The request id of the request being served, for the gateway's log lines."""


class RequestIdMiddleware:
    """Echo the client's `x-request-id` (when sane) or make one; put it on every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        current_request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"], (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        await self.app(scope, receive, send_with_id)


def create_app(settings: GatewaySettings | None = None) -> Starlette:
    settings = settings or GatewaySettings()
    settings.check()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, object]]:
        broker = BrokerConnection(settings.amqp_url, name="itemx-gateway")

        async def declare(connection):  # type: ignore[no-untyped-def]
            async with connection.channel() as channel:
                await topology.declare(channel)

        broker.on_connect(declare)
        rpc = RpcClient(broker, default_timeout=settings.rpc_timeout_seconds)
        await broker.start(wait=10)
        try:
            yield {
                "settings": settings,
                "broker": broker,
                "rpc": rpc,
                "tokens": TokenService(settings.jwt_secret, settings.jwt_ttl_seconds),
                "openapi": orjson.dumps(build_document(app.routes)),
            }
        finally:
            await broker.close()

    return Starlette(
        routes=ROUTES,
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
