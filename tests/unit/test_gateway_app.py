"""The gateway's own error paths, in process and without services: the error envelope
for 404, 405 and 500, and an x-request-id on every one of them."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api_gateway.app import create_app
from api_gateway.settings import GatewaySettings


async def failing_endpoint(_: Request) -> Response:
    raise RuntimeError("a bug in an endpoint")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The real app (no lifespan: nothing here reaches the broker) plus one broken route."""
    app = create_app(GatewaySettings())
    app.router.routes.append(Route("/test-only/failing", failing_endpoint))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


def assert_envelope(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]


async def test_unknown_route(client: httpx.AsyncClient) -> None:
    assert_envelope(await client.get("/api/nope"), 404, "not_found")


async def test_wrong_method(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/auth/register")
    assert_envelope(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"


async def test_an_unexpected_error_is_a_500_envelope_with_the_request_id(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/test-only/failing", headers={"x-request-id": "trace-500"})
    assert_envelope(response, 500, "internal_error")
    assert "a bug" not in response.text  # no internals leak
    assert response.headers["x-request-id"] == "trace-500"


@pytest.mark.parametrize("path", ["/api/nope", "/api/auth/login", "/test-only/failing"])
async def test_a_request_id_is_echoed(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers={"x-request-id": "client-chosen.id:1-2_3"})
    assert response.headers["x-request-id"] == "client-chosen.id:1-2_3"


@pytest.mark.parametrize(
    "given", [None, "", "has space", "x" * 129, "semi;colon", "new\u00e9line", "<script>"]
)
async def test_a_request_id_is_generated_when_missing_or_unsafe(
    client: httpx.AsyncClient, given: str | None
) -> None:
    headers = {} if given is None else {"x-request-id": given.encode("utf-8")}
    response = await client.get("/api/nope", headers=headers)
    generated = response.headers["x-request-id"]
    assert generated != given
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    other = (await client.get("/api/nope", headers=headers)).headers["x-request-id"]
    assert other != generated
