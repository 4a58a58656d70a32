"""Creating users through the API, with unique names so the suite can run again."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

PASSWORD = "correct horse battery"  # noqa: S105


@dataclass(frozen=True)
class TestUser:
    __test__ = False  # a helper, not a test class

    id: str
    username: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"x-auth-token": self.token}


def unique_name(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


async def register(api: httpx.AsyncClient, prefix: str = "u", password: str = PASSWORD) -> TestUser:
    username = unique_name(prefix)
    response = await api.post(
        "/api/auth/register",
        json={"username": username, "email": f"{username}@example.com", "password": password},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return TestUser(body["user"]["id"], username, f"{username}@example.com", body["token"])


async def deposit(api: httpx.AsyncClient, user: TestUser, amount: str) -> dict:
    response = await api.post("/api/users/deposit", json={"amount": amount}, headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()
