"""Polling a process's /health from async tests (without blocking the event loop)."""

from __future__ import annotations

import httpx

from tests.support.waiting import wait_until


async def health(port: int) -> tuple[int, dict]:
    """The status and body of http://127.0.0.1:<port>/health; (0, {}) when it is down."""
    try:
        async with httpx.AsyncClient(timeout=3) as client:
            response = await client.get(f"http://127.0.0.1:{port}/health")
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json()


async def wait_for_health(port: int, status: int, timeout: float = 30) -> dict:
    """Wait until /health answers `status`; return its body."""
    seen: list[dict] = []

    async def reached() -> bool:
        code, body = await health(port)
        seen[:] = [body]
        return code == status

    await wait_until(reached, timeout, f"/health on :{port} answering {status}")
    return seen[0]
