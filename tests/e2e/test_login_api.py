"""Login through the real gateway and worker: by username or email, invalid
credentials that reveal nothing, and throttling per username and per client address."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from tests.support.accounts_api import (
    error_code,
    login_status,
    post_login,
)
from tests.support.clients import from_address, unique_address
from tests.support.users import PASSWORD, register, unique_name


async def test_login_by_username_and_by_email(api: httpx.AsyncClient) -> None:
    user = await register(api, "Login")
    for body in (
        {"username": user.username, "password": PASSWORD},
        {"username": user.username.upper(), "password": PASSWORD},
        {"email": user.email, "password": PASSWORD},
        {"email": user.email.upper(), "password": PASSWORD},
    ):
        response = await post_login(api, body)
        assert response.status_code == 200, (body, response.text)
        answer = response.json()
        assert answer["user"]["id"] == user.id
        assert answer["user"]["username"] == user.username
        profile = await api.get("/api/users/profile", headers={"x-auth-token": answer["token"]})
        assert profile.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"password": PASSWORD},
        {"username": "someone", "email": "someone@example.com", "password": PASSWORD},
        {"username": "someone"},
        {"username": "", "password": PASSWORD},
        {"username": "someone", "password": ""},
        {"username": ["someone"], "password": PASSWORD},
        {"username": "someone", "password": PASSWORD, "remember_me": True},
    ],
)
async def test_login_validation_errors(api: httpx.AsyncClient, body: dict[str, object]) -> None:
    response = await api.post("/api/auth/login", json=body, headers=from_address())
    assert response.status_code == 400
    assert error_code(response) == "validation_error"


async def test_invalid_credentials_do_not_tell_which_part_was_wrong(
    api: httpx.AsyncClient,
) -> None:
    user = await register(api, "cred")
    address = unique_address()
    wrong_password = await post_login(
        api, {"username": user.username, "password": "wrong password"}, address
    )
    no_such_user = await post_login(
        api, {"username": unique_name("ghost"), "password": PASSWORD}, address
    )
    no_such_email = await post_login(
        api, {"email": f"{unique_name('ghost')}@example.com", "password": PASSWORD}, address
    )
    for response in (wrong_password, no_such_user, no_such_email):
        assert response.status_code == 401
        assert response.json()["error"] == wrong_password.json()["error"]
        assert error_code(response) == "invalid_credentials"


async def test_too_many_failures_for_one_username(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    """Five failures lock the account, even for the right password, whether they came
    by username or by email (one budget per account, not one per spelling)."""
    user = await register(api, "throttle")
    for attempt in range(5):
        login = {"username": user.username} if attempt % 2 else {"email": user.email.upper()}
        response = await post_login(api, {**login, "password": "wrong pass"})
        assert response.status_code == 401
    for body in (
        {"username": user.username, "password": PASSWORD},
        {"username": user.username.upper(), "password": PASSWORD},
        {"email": user.email, "password": PASSWORD},
    ):
        locked = await post_login(api, body)
        assert locked.status_code == 429
        assert error_code(locked) == "too_many_attempts"
    failures = await db.fetchval(
        "SELECT failures FROM login_failures WHERE subject = $1", f"user:{user.id}"
    )
    assert failures == 5
    other = await register(api, "free")
    assert await login_status(api, other.username, PASSWORD) == 200


async def test_too_many_failures_from_one_address(api: httpx.AsyncClient) -> None:
    """Fifty failures on fifty different usernames lock the address, not the users."""
    user = await register(api, "addr")
    address = unique_address()
    for _ in range(50):
        response = await post_login(
            api, {"username": unique_name("spray"), "password": "wrong pass"}, address
        )
        assert response.status_code == 401
    locked = await post_login(api, {"username": user.username, "password": PASSWORD}, address)
    assert locked.status_code == 429
    assert error_code(locked) == "too_many_attempts"
    elsewhere = await post_login(api, {"username": user.username, "password": PASSWORD})
    assert elsewhere.status_code == 200


async def test_a_successful_login_clears_the_username_failures(api: httpx.AsyncClient) -> None:
    user = await register(api, "reset")
    for _ in range(4):
        await post_login(api, {"username": user.username, "password": "wrong pass"})
    assert await login_status(api, user.username, PASSWORD) == 200
    for _ in range(4):
        assert await login_status(api, user.username, "wrong pass") == 401
    assert await login_status(api, user.username, PASSWORD) == 200


