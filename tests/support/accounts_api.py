"""Calling the accounts endpoints in tests, and reading what they did to the database."""

from __future__ import annotations

import asyncpg
import httpx

from tests.support import users
from tests.support.clients import from_address
from tests.support.users import PASSWORD


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


async def post_register(
    api: httpx.AsyncClient, username: str, email: str | None = None, password: str = PASSWORD
) -> httpx.Response:
    return await api.post(
        "/api/auth/register",
        json={"username": username, "email": email or f"{username}@example.com",
              "password": password},
    )


async def post_login(
    api: httpx.AsyncClient, body: dict[str, str], address: str | None = None
) -> httpx.Response:
    return await api.post("/api/auth/login", json=body, headers=from_address(address))


async def login_status(
    api: httpx.AsyncClient, username: str, password: str, address: str | None = None
) -> int:
    response = await post_login(api, {"username": username, "password": password}, address)
    return response.status_code


async def ledger_rows(db: asyncpg.Connection, user: users.TestUser) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT kind, ref, amount, balance_after FROM ledger WHERE user_id = $1 ORDER BY id",
        int(user.id),
    )


async def balance(db: asyncpg.Connection, user: users.TestUser) -> int:
    return await db.fetchval("SELECT balance FROM users WHERE id = $1", int(user.id))
