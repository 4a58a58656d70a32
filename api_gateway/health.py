"""The gateway's `/health`: can it reach the broker?"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from broker.connection import BrokerConnection


async def health(request: Request) -> JSONResponse:
    broker: BrokerConnection = request.state.broker
    ok = broker.is_connected
    return JSONResponse(
        {
            "status": "ok" if ok else "unavailable",
            "service": "api_gateway",
            "checks": {"broker": "ok" if ok else "failed: not connected to RabbitMQ"},
        },
        status_code=200 if ok else 503,
    )
