"""The worker's own small HTTP server: `/health` (database and broker) and `/metrics`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Check = Callable[[], Awaitable[None]]


def health_app(service: str, checks: dict[str, Check]) -> Starlette:
    async def health(_: Request) -> JSONResponse:
        results = await asyncio.gather(*(_run(check) for check in checks.values()))
        named = dict(zip(checks, results, strict=True))
        ok = all(result == "ok" for result in results)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "service": service, "checks": named},
            status_code=200 if ok else 503,
        )

    async def metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(routes=[Route("/health", health), Route("/metrics", metrics)])


async def _run(check: Check) -> str:
    try:
        await asyncio.wait_for(check(), 2.0)
    except Exception as exc:
        return f"failed: {type(exc).__name__}: {exc}"[:200]
    return "ok"


class EmbeddedServer(uvicorn.Server):
    """uvicorn inside the worker's event loop; the worker, not uvicorn, owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(app: Starlette, host: str, port: int) -> tuple[EmbeddedServer, asyncio.Task[None]]:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                            lifespan="off")
    server = EmbeddedServer(config)
    return server, asyncio.create_task(server.serve(), name=f"health-{port}")
