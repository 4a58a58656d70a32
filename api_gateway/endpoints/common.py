"""What every endpoint uses: the RPC call with the request's id, and JSON responses."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from broker.rpc import RpcClient
from contracts import Command, Query, Reply


async def call(request: Request, message: Command | Query, timeout: float | None = None) -> Any:
    """Send a command or query for this request and return the worker's reply."""
    rpc: RpcClient = request.state.rpc
    settings = request.state.settings
    if timeout is None:
        timeout = (
            settings.query_timeout_seconds
            if isinstance(message, Query)
            else settings.rpc_timeout_seconds
        )
    reply: Reply = await rpc.call(message, timeout=timeout, request_id=request.state.request_id)
    return reply


def respond(model: BaseModel, status_code: int = 200) -> Response:
    return Response(
        model.model_dump_json(exclude_none=False), status_code, media_type="application/json"
    )


def respond_json(document: Any, status_code: int = 200) -> Response:
    return Response(orjson.dumps(document), status_code, media_type="application/json")
