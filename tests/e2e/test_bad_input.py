"""Bad input gets a clear 4xx with the error envelope, never a 5xx, and changes nothing:
bad amounts, unknown fields, oversized bodies, broken or hostile JSON, odd routes."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.support.clients import from_address
from tests.support.users import PASSWORD, register, unique_name

KIB = 1024


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.headers["x-request-id"]


async def money_state(db: asyncpg.Connection, user_id: str) -> tuple[int, int]:
    return (
        await db.fetchval("SELECT balance FROM users WHERE id = $1", int(user_id)),
        await db.fetchval("SELECT count(*) FROM ledger WHERE user_id = $1", int(user_id)),
    )


# --- amounts ------------------------------------------------------------------------

BAD_AMOUNTS = [
    # (the amount as raw JSON, the error code)
    ('"-5.00"', "invalid_amount"), ("-5", "invalid_amount"), ("-0.01", "invalid_amount"),
    ('"0"', "invalid_amount"), ("0", "invalid_amount"), ("0.00", "invalid_amount"),
    ('"12.345"', "invalid_amount"), ("12.345", "invalid_amount"), ("0.001", "invalid_amount"),
    ('"NaN"', "invalid_amount"), ("NaN", "invalid_json"),
    ('"Infinity"', "invalid_amount"), ("Infinity", "invalid_json"), ("-Infinity", "invalid_json"),
    ('"1e3"', "invalid_amount"), ("1e3", "invalid_amount"), ("1E2", "invalid_amount"),
    ('"1e400"', "invalid_amount"), ("1e400", "invalid_amount"),
    ('"9223372036854775808"', "invalid_amount"), ("9223372036854775808", "invalid_amount"),
    ("18446744073709551616", "invalid_amount"), ("1" + "0" * 400, "invalid_amount"),
    ("true", "invalid_amount"), ("false", "invalid_amount"), ("null", "invalid_amount"),
    ('"1000000.01"', "invalid_amount"), ("1000000.01", "invalid_amount"),
    ("1000001", "invalid_amount"), ('""', "invalid_amount"), ('" "', "invalid_amount"),
    ("[]", "invalid_amount"), ("{}", "invalid_amount"), ('["12.50"]', "invalid_amount"),
    ('"12,50"', "invalid_amount"), ('"+12.50"', "invalid_amount"), ('"0x10"', "invalid_amount"),
    ('"\\u0661\\u0662"', "invalid_amount"), ('"12.50\\u0000"', "invalid_amount"),
    ('"\\ud800"', "invalid_amount"),
]


@pytest.mark.parametrize(("amount", "code"), BAD_AMOUNTS)
async def test_a_bad_amount_changes_nothing(
    api: httpx.AsyncClient, db: asyncpg.Connection, amount: str, code: str
) -> None:
    user = await register(api, "amt")
    await api.post("/api/users/deposit", json={"amount": "1.00"}, headers=user.headers)
    before = await money_state(db, user.id)
    response = await api.post(
        "/api/users/deposit",
        content=f'{{"amount": {amount}}}'.encode(),
        headers={**user.headers, "content-type": "application/json"},
    )
    assert_error(response, 400, code)
    assert await money_state(db, user.id) == before == (100, 1)


async def test_the_largest_and_smallest_deposits_are_accepted(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(api, "edge")
    for amount in ("1000000.00", "0.01", 0.01):
        response = await api.post(
            "/api/users/deposit", json={"amount": amount}, headers=user.headers
        )
        assert response.status_code == 200, (amount, response.text)
    assert await money_state(db, user.id) == (100_000_002, 3)


async def test_a_deposit_without_an_amount(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await register(api, "noamt")
    response = await api.post("/api/users/deposit", json={}, headers=user.headers)
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("invalid_amount", "validation_error")
    assert await money_state(db, user.id) == (0, 0)


# --- unknown fields (no mass assignment) -----------------------------------------------


@pytest.mark.parametrize(
    "extra", [{"balance": "100.00"}, {"id": "1"}, {"is_admin": True}, {"password_hash": "x"}]
)
async def test_register_refuses_unknown_fields(
    api: httpx.AsyncClient, db: asyncpg.Connection, extra: dict[str, object]
) -> None:
    username = unique_name("mass")
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    response = await api.post("/api/auth/register", json={**body, **extra})
    assert_error(response, 400, "validation_error")
    assert [f["field"] for f in response.json()["error"]["details"]["fields"]] == list(extra)
    assert await db.fetchval(
        "SELECT count(*) FROM usernames WHERE username = lower($1)", username
    ) == 0


@pytest.mark.parametrize(
    "extra", [{"user_id": "1"}, {"balance": "5.00"}, {"deposit_id": "x"}, {"currency": "EUR"}]
)
async def test_deposit_refuses_unknown_fields(
    api: httpx.AsyncClient, db: asyncpg.Connection, extra: dict[str, object]
) -> None:
    user = await register(api, "massdep")
    response = await api.post(
        "/api/users/deposit", json={"amount": "5.00", **extra}, headers=user.headers
    )
    assert_error(response, 400, "validation_error")
    assert await money_state(db, user.id) == (0, 0)


# --- body size: 64 KiB ----------------------------------------------------------------


def padded_register_body(size: int) -> bytes:
    """A valid register body padded with JSON whitespace to exactly `size` bytes."""
    username = unique_name("big")
    core = (
        f'{{"username": "{username}", "email": "{username}@example.com", '
        f'"password": "{PASSWORD}"'
    ).encode()
    return core + b" " * (size - len(core) - 1) + b"}"


async def test_a_body_of_exactly_64_kib_is_read(api: httpx.AsyncClient) -> None:
    body = padded_register_body(64 * KIB)
    assert len(body) == 64 * KIB
    response = await api.post(
        "/api/auth/register", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("size", [64 * KIB + 1, 200 * KIB, 2 * KIB * KIB])
async def test_a_larger_body_is_413(api: httpx.AsyncClient, size: int) -> None:
    body = padded_register_body(size)
    response = await api.post(
        "/api/auth/register", content=body, headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "payload_too_large")


async def test_a_chunked_body_over_the_limit_is_413(api: httpx.AsyncClient) -> None:
    body = padded_register_body(100 * KIB)

    async def chunks():  # no Content-Length: the gateway must count while reading
        for start in range(0, len(body), 8 * KIB):
            yield body[start:start + 8 * KIB]

    response = await api.post(
        "/api/auth/register", content=chunks(), headers={"content-type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert_error(response, 413, "payload_too_large")


async def test_an_oversized_deposit_changes_nothing(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(api, "bigdep")
    body = b'{"amount": "5.00"' + b" " * (70 * KIB) + b"}"
    response = await api.post(
        "/api/users/deposit", content=body,
        headers={**user.headers, "content-type": "application/json"},
    )
    assert_error(response, 413, "payload_too_large")
    assert await money_state(db, user.id) == (0, 0)


# --- hostile JSON -------------------------------------------------------------------

INVALID_JSON = [
    b"",
    b"{",
    b'{"username": "ab',
    b'{"username": "abc", "password": ',
    b"{'username': 'abc'}",
    b'{"a": 1}{"b": 2}',
    b'{"a": 1,}',
    b"[" * 30000 + b"]" * 30000,
    b'{"a":' * 10000 + b"1" + b"}" * 10000,
    b'{"username": "a\x00b", "email": "a@example.com", "password": "12345678"}',
    b'{"username": "abc", "email": "a@example.com", "password": "\xff\xfe\xfd\xfc1234"}',
    b'{"username": "abc", "email": "a@example.com", "password": "\xed\xa0\x80abcdefgh"}',
    b"\x00\x00\x00",
    b"NaN",
    '{"username": "abc", "email": "a@example.com", "password": "12345678"}'.encode("utf-16"),
    b'\xef\xbb\xbf{"username": "abc", "email": "a@example.com", "password": "12345678"}',
]


@pytest.mark.parametrize("path", ["/api/auth/register", "/api/auth/login"])
@pytest.mark.parametrize("raw", INVALID_JSON, ids=lambda raw: repr(raw[:24]))
async def test_invalid_json_is_a_400(api: httpx.AsyncClient, path: str, raw: bytes) -> None:
    response = await api.post(
        path, content=raw, headers={"content-type": "application/json", **from_address()}
    )
    assert_error(response, 400, "invalid_json")


@pytest.mark.parametrize("document", [b"[]", b'"text"', b"1", b"null", b"true"])
async def test_a_body_that_is_not_an_object(api: httpx.AsyncClient, document: bytes) -> None:
    response = await api.post(
        "/api/auth/register", content=document, headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize("depth", [50, 500])
async def test_nested_values_inside_a_field(api: httpx.AsyncClient, depth: int) -> None:
    nested = "[" * depth + "]" * depth
    raw = f'{{"username": {nested}, "email": "a@example.com", "password": "12345678"}}'
    response = await api.post(
        "/api/auth/register", content=raw.encode(), headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "validation_error")


@pytest.mark.parametrize("field", ["username", "email", "password"])
@pytest.mark.parametrize("poison", ["\\u0000", "\\ud800", "\\udfff", "a\\ud83d", "\\ud83d\\u0041"])
async def test_nul_and_lone_surrogates_in_register_fields(
    api: httpx.AsyncClient, db: asyncpg.Connection, field: str, poison: str
) -> None:
    username = unique_name("nul")
    values = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    values[field] = values[field][:4] + poison + values[field][4:]
    raw = "{" + ", ".join(f'"{k}": "{v}"' for k, v in values.items()) + "}"
    response = await api.post(
        "/api/auth/register", content=raw.encode(), headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "validation_error")
    assert await db.fetchval(
        "SELECT count(*) FROM usernames WHERE username = lower($1)", username
    ) == 0


@pytest.mark.parametrize(
    "raw",
    [
        '{"username": "ab\\u0000c", "password": "12345678"}',
        '{"username": "ab\\ud800c", "password": "12345678"}',
        '{"email": "a\\ud800@example.com", "password": "12345678"}',
        '{"username": "abc", "password": "1234\\u00005678"}',
        '{"username": "abc", "password": "1234\\udc005678"}',
    ],
)
async def test_nul_and_lone_surrogates_in_login_fields(api: httpx.AsyncClient, raw: str) -> None:
    response = await api.post(
        "/api/auth/login", content=raw.encode(),
        headers={"content-type": "application/json", **from_address()},
    )
    assert_error(response, 400, "validation_error")


# --- routes and request ids -----------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/nope", 404, "not_found"),
        ("GET", "/", 404, "not_found"),
        ("POST", "/api/users/profile/extra", 404, "not_found"),
        ("GET", "/api/auth/register", 405, "method_not_allowed"),
        ("PUT", "/api/auth/login", 405, "method_not_allowed"),
        ("DELETE", "/api/users/profile", 405, "method_not_allowed"),
        ("GET", "/api/users/deposit", 405, "method_not_allowed"),
    ],
)
async def test_unknown_routes_and_wrong_methods(
    api: httpx.AsyncClient, method: str, path: str, status: int, code: str
) -> None:
    response = await api.request(method, path)
    assert_error(response, status, code)
    if status == 405:
        assert response.headers["allow"]


async def test_every_response_carries_a_request_id(api: httpx.AsyncClient) -> None:
    user = await register(api, "rid")
    requests = [
        ("GET", "/health", {}, None),
        ("GET", "/api/users/profile", user.headers, None),
        ("GET", "/api/users/profile", {}, None),
        ("POST", "/api/users/deposit", user.headers, b'{"amount": "1.00"}'),
        ("POST", "/api/users/deposit", user.headers, b'{"amount": "-1"}'),
        ("POST", "/api/auth/register", {}, b"{"),
        ("POST", "/api/auth/register", {}, b" " * (65 * KIB)),
        ("POST", "/api/auth/login", from_address(), b'{"username": "x", "password": "y"}'),
        ("GET", "/nope", {}, None),
        ("PATCH", "/api/auth/login", {}, None),
    ]
    statuses = set()
    for method, path, headers, body in requests:
        echoed = await api.request(
            method, path, content=body, headers={**headers, "x-request-id": "trace-me-42"}
        )
        assert echoed.headers["x-request-id"] == "trace-me-42", (method, path)
        generated = await api.request(method, path, content=body, headers=headers)
        assert len(generated.headers["x-request-id"]) >= 16, (method, path)
        assert generated.headers["x-request-id"] != "trace-me-42"
        assert echoed.status_code < 500 and generated.status_code < 500
        statuses.add(echoed.status_code)
    assert statuses >= {200, 400, 401, 404, 405, 413}
