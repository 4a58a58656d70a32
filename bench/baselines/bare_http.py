"""The floor of any request: the gateway's HTTP layer answering a constant JSON.

    BARE_HTTP_PORT=25007 python -m bench.baselines.bare_http     # GET /ping
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api_gateway.app import RequestIdMiddleware
from api_gateway.errors import EXCEPTION_HANDLERS
from bench.baselines.serving import run

PONG = b'{"status":"ok"}'


async def ping(_: Request) -> Response:
    return Response(PONG, media_type="application/json")


def create_app() -> Starlette:
    return Starlette(
        routes=[Route("/ping", ping, methods=["GET"]), Route("/health", ping, methods=["GET"])],
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
    )


if __name__ == "__main__":
    run(create_app(), "BARE_HTTP_PORT", 25007)
