"""The accounts table of api.md through the real gateway and worker (register, profile,
deposit with Idempotency-Key), with what the database holds afterwards."""

from __future__ import annotations

import re
import secrets
import string

import asyncpg
import httpx
import pytest

from tests.support.accounts_api import (
    balance,
    error_code,
    ledger_rows,
    post_login,
    post_register,
)
from tests.support.clients import unique_address
from tests.support.users import PASSWORD, register, unique_name

USERNAME_ALPHABET = string.ascii_letters + string.digits + "_.-"
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


# --- register ----------------------------------------------------------------------


async def test_register_answers_201_with_the_user_and_a_token(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    username = unique_name("Reg")
    response = await post_register(api, username, f"{username}@Example.com")
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"user", "token"}
    user = body["user"]
    assert set(user) == {"id", "username", "email", "balance", "created_at"}
    assert isinstance(user["id"], str)
    assert (user["username"], user["email"]) == (username, f"{username}@Example.com")
    assert user["balance"] == "0.00"
    assert RFC3339_UTC.match(user["created_at"])
    stored = await db.fetchrow("SELECT password_hash FROM users WHERE id = $1", int(user["id"]))
    assert stored["password_hash"].startswith("$2b$")
    assert PASSWORD not in response.text and stored["password_hash"] not in response.text
    profile = await api.get("/api/users/profile", headers={"x-auth-token": body["token"]})
    assert profile.json() == user


async def test_username_taken_ignores_case(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await register(api, "Case")
    other_email = f"{unique_name()}@example.com"
    response = await post_register(api, user.username.upper(), other_email)
    assert response.status_code == 409
    assert error_code(response) == "username_taken"
    assert await db.fetchval(
        "SELECT count(*) FROM users WHERE lower(email) = lower($1)", other_email
    ) == 0


async def test_email_taken_ignores_case(api: httpx.AsyncClient, db: asyncpg.Connection) -> None:
    user = await register(api, "mail")
    other_name = unique_name("mail")
    response = await post_register(api, other_name, user.email.upper())
    assert response.status_code == 409
    assert error_code(response) == "email_taken"
    assert await db.fetchval(
        "SELECT count(*) FROM usernames WHERE username = lower($1)", other_name
    ) == 0
    assert await db.fetchval(
        "SELECT count(*) FROM users WHERE lower(email) = lower($1)", user.email
    ) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "ab"}, "username"),
        ({"username": "a" * 33}, "username"),
        ({"username": "has space"}, "username"),
        ({"username": "ünïcode"}, "username"),
        ({"username": "semi;colon"}, "username"),
        ({"username": "line\n"}, "username"),
        ({"username": 12345}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "two@@example.com"}, "email"),
        ({"email": "spa ce@example.com"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": None}, "email"),
        ({"password": "short"}, "password"),
        ({"password": 12345678}, "password"),
        ({"password": None}, "password"),
    ],
)
async def test_register_validation_errors_name_the_field(
    api: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    username = unique_name("val")
    full = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    response = await api.post("/api/auth/register", json={**full, **body})
    assert response.status_code == 400
    assert error_code(response) == "validation_error"
    fields = [f["field"] for f in response.json()["error"]["details"]["fields"]]
    assert field in fields


@pytest.mark.parametrize("missing", ["username", "email", "password"])
async def test_register_requires_every_field(api: httpx.AsyncClient, missing: str) -> None:
    username = unique_name("miss")
    body = {"username": username, "email": f"{username}@example.com", "password": PASSWORD}
    del body[missing]
    response = await api.post("/api/auth/register", json=body)
    assert response.status_code == 400
    assert error_code(response) == "validation_error"


@pytest.mark.parametrize("length", [3, 32])
async def test_username_length_bounds_are_allowed(api: httpx.AsyncClient, length: int) -> None:
    for _ in range(20):  # a short name may be taken by an earlier run: draw another
        username = "".join(secrets.choice(USERNAME_ALPHABET) for _ in range(length))
        response = await post_register(api, username, f"{unique_name()}@example.com")
        if response.status_code != 409:
            break
        assert error_code(response) == "username_taken"
    assert response.status_code == 201, response.text
    assert response.json()["user"]["username"] == username


# --- passwords: 8 to 72 bytes of UTF-8, never truncated ---------------------------------


@pytest.mark.parametrize(
    ("password", "status"),
    [
        ("p" * 7, 400),
        ("p" * 8, 201),
        ("p" * 72, 201),
        ("p" * 73, 400),
        ("p" * 200, 400),
        ("€€€", 201),  # 3 characters, 9 bytes: enough
        ("é" * 36, 201),  # 72 bytes
        ("é" * 37, 400),  # 37 characters but 74 bytes
        ("😀" * 18, 201),  # 72 bytes
        ("😀" * 19, 400),  # 76 bytes
        ("ab\u00e9", 400),  # 4 bytes
    ],
)
async def test_password_length_is_counted_in_utf8_bytes(
    api: httpx.AsyncClient, db: asyncpg.Connection, password: str, status: int
) -> None:
    username = unique_name("pw")
    response = await post_register(api, username, password=password)
    assert response.status_code == status, response.text
    exists = await db.fetchval(
        "SELECT count(*) FROM usernames WHERE username = lower($1)", username
    )
    assert exists == (1 if status == 201 else 0)
    if status == 400:
        assert error_code(response) == "validation_error"
        fields = [f["field"] for f in response.json()["error"]["details"]["fields"]]
        assert fields == ["password"]


async def test_a_72_byte_password_is_not_truncated(api: httpx.AsyncClient) -> None:
    password = "Z" * 72
    user = await register(api, "long", password=password)
    address = unique_address()
    ok = await post_login(api, {"username": user.username, "password": password}, address)
    assert ok.status_code == 200
    for wrong in (password + "x", password[:-1], password + "é" * 60):
        refused = await post_login(api, {"username": user.username, "password": wrong}, address)
        assert refused.status_code == 401, wrong
        assert error_code(refused) == "invalid_credentials"


# --- profile ------------------------------------------------------------------------


async def test_profile_with_either_header(api: httpx.AsyncClient) -> None:
    user = await register(api, "prof")
    for headers in (
        {"x-auth-token": user.token},
        {"authorization": f"Bearer {user.token}"},
        {"authorization": f"bearer {user.token}"},
    ):
        response = await api.get("/api/users/profile", headers=headers)
        assert response.status_code == 200, headers
        assert response.json()["id"] == user.id
        assert "password" not in response.text


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-auth-token": ""}, {"authorization": "Bearer"}, {"authorization": "Basic abc"},
     {"x-auth-token": "garbage"}],
)
async def test_profile_needs_a_token(api: httpx.AsyncClient, headers: dict[str, str]) -> None:
    response = await api.get("/api/users/profile", headers=headers)
    assert response.status_code == 401
    assert error_code(response) == "unauthorized"


# --- deposit ------------------------------------------------------------------------


async def test_deposit_adds_to_the_balance_and_the_ledger(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(api, "dep")
    first = await api.post("/api/users/deposit", json={"amount": "12.50"}, headers=user.headers)
    second = await api.post("/api/users/deposit", json={"amount": 7.5}, headers=user.headers)
    third = await api.post("/api/users/deposit", json={"amount": 1000000}, headers=user.headers)
    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert [r.json()["balance"] for r in (first, second, third)] == ["12.50", "20.00", "1000020.00"]
    assert set(first.json()) == {"balance", "deposit_id"}
    rows = await ledger_rows(db, user)
    assert [(r["kind"], r["amount"], r["balance_after"]) for r in rows] == [
        ("deposit", 1250, 1250), ("deposit", 750, 2000), ("deposit", 100_000_000, 100_002_000)
    ]
    assert str(rows[0]["ref"]) == first.json()["deposit_id"]
    assert await balance(db, user) == 100_002_000
    profile = await api.get("/api/users/profile", headers=user.headers)
    assert profile.json()["balance"] == "1000020.00"


async def test_deposit_needs_a_token(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/users/deposit", json={"amount": "1.00"})
    assert response.status_code == 401
    assert error_code(response) == "unauthorized"


async def test_deposit_refuses_a_bad_amount(api: httpx.AsyncClient) -> None:
    user = await register(api, "depbad")
    response = await api.post("/api/users/deposit", json={"amount": "-1"}, headers=user.headers)
    assert response.status_code == 400
    assert error_code(response) == "invalid_amount"
    assert response.json()["error"]["details"]["fields"][0]["field"] == "amount"


async def test_same_idempotency_key_and_body_deposits_once(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(api, "idem")
    headers = {**user.headers, "idempotency-key": unique_name("key")}
    answers = [
        await api.post("/api/users/deposit", json={"amount": amount}, headers=headers)
        for amount in ("25.00", "25.00", 25, "25.0")
    ]
    assert {r.status_code for r in answers} == {200}
    assert len({r.text for r in answers}) == 1
    assert answers[0].json()["balance"] == "25.00"
    assert len(await ledger_rows(db, user)) == 1
    assert await balance(db, user) == 2500


async def test_same_idempotency_key_with_another_body_is_refused(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(api, "reuse")
    headers = {**user.headers, "idempotency-key": unique_name("key")}
    first = await api.post("/api/users/deposit", json={"amount": "10.00"}, headers=headers)
    assert first.status_code == 200
    reused = await api.post("/api/users/deposit", json={"amount": "11.00"}, headers=headers)
    assert reused.status_code == 409
    assert error_code(reused) == "idempotency_key_reused"
    assert len(await ledger_rows(db, user)) == 1
    assert await balance(db, user) == 1000
    again = await api.post("/api/users/deposit", json={"amount": "10.00"}, headers=headers)
    assert again.json() == first.json()


async def test_idempotency_keys_belong_to_one_user(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    key = unique_name("key")
    alice, bob = await register(api, "alice"), await register(api, "bob")
    for user, amount in ((alice, "3.00"), (bob, "4.00")):
        response = await api.post(
            "/api/users/deposit", json={"amount": amount},
            headers={**user.headers, "idempotency-key": key},
        )
        assert response.status_code == 200
    assert (await balance(db, alice), await balance(db, bob)) == (300, 400)


async def test_without_a_key_every_request_is_a_new_deposit(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    user = await register(api, "nokey")
    for _ in range(3):
        response = await api.post(
            "/api/users/deposit", json={"amount": "1.00"}, headers=user.headers
        )
        assert response.status_code == 200
    assert len(await ledger_rows(db, user)) == 3
    assert await balance(db, user) == 300


async def test_the_request_id_travels_with_the_command(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """The client's x-request-id reaches the worker: it is stored with the event the
    deposit wrote to the outbox (and so is on the published event too)."""
    user = await register(api, "trace")
    request_id = f"trace-{unique_name()}"
    response = await api.post(
        "/api/users/deposit", json={"amount": "3.00"},
        headers={**user.headers, "x-request-id": request_id},
    )
    assert response.status_code == 200
    assert response.headers["x-request-id"] == request_id
    stored = await db.fetchval(
        "SELECT request_id FROM accounts_outbox WHERE key = $1 AND type = 'funds.deposited'",
        int(user.id),
    )
    assert stored == request_id
