"""Nobody acts as someone else: only a valid, unexpired HS256 token from the gateway's
key authenticates, in `x-auth-token` or `Authorization: Bearer`. Everything else is a
401 and changes nothing."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import asyncpg
import httpx
import jwt
import pytest

from api_gateway.auth import TokenService
from api_gateway.settings import DEVELOPMENT_JWT_SECRET
from tests.support.users import register

GATEWAY_KEY = DEVELOPMENT_JWT_SECRET  # the suite's gateway runs with the development key


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(user_id: str, **changes: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"sub": user_id, "iat": now, "exp": now + 600, **changes}
    return {k: v for k, v in claims.items() if v is not None}


def tampered(token: str, user_id: str) -> str:
    """The victim's id in the payload, the attacker's signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = user_id
    return ".".join([header, b64(json.dumps(claims).encode()), signature])


FORGERIES: dict[str, Callable[[str, str], str]] = {
    "tampered sub": lambda own, victim: tampered(own, victim),
    "alg none": lambda own, victim: jwt.encode(claims_for(victim), None, algorithm="none"),
    "alg none, signature kept": lambda own, victim: (
        jwt.encode(claims_for(victim), None, algorithm="none") + own.split(".")[2]
    ),
    "wrong key": lambda own, victim: jwt.encode(
        claims_for(victim), "an-attackers-own-key-of-plenty-bytes!!", algorithm="HS256"
    ),
    "HS512 with the right key": lambda own, victim: jwt.encode(
        claims_for(victim), GATEWAY_KEY + "-" * 40, algorithm="HS512"
    ),
    "expired": lambda own, victim: TokenService(GATEWAY_KEY, 60).issue(
        int(victim), now=time.time() - 3600
    ),
    "no exp": lambda own, victim: jwt.encode(
        claims_for(victim, exp=None), GATEWAY_KEY, algorithm="HS256"
    ),
    "no iat": lambda own, victim: jwt.encode(
        claims_for(victim, iat=None), GATEWAY_KEY, algorithm="HS256"
    ),
    "no sub": lambda own, victim: jwt.encode(
        {k: v for k, v in claims_for(victim).items() if k != "sub"}, GATEWAY_KEY, "HS256"
    ),
    "malformed": lambda own, victim: "not.a.token",
    "two parts": lambda own, victim: ".".join(own.split(".")[:2]),
    "garbage": lambda own, victim: "%%%" * 50,
    "very long": lambda own, victim: own + "A" * 8000,
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
@pytest.mark.parametrize("scheme", ["x-auth-token", "bearer"])
async def test_forged_tokens_are_401_and_change_nothing(
    api: httpx.AsyncClient, db: asyncpg.Connection, forgery: str, scheme: str
) -> None:
    attacker, victim = await register(api, "atk"), await register(api, "vic")
    token = FORGERIES[forgery](attacker.token, victim.id)
    headers = (
        {"x-auth-token": token} if scheme == "x-auth-token"
        else {"authorization": f"Bearer {token}"}
    )
    profile = await api.get("/api/users/profile", headers=headers)
    deposit = await api.post("/api/users/deposit", json={"amount": "5.00"}, headers=headers)
    for response in (profile, deposit):
        assert response.status_code == 401, (forgery, response.text)
        assert response.json()["error"]["code"] == "unauthorized"
    assert victim.username not in profile.text
    assert await db.fetchval(
        "SELECT count(*) FROM ledger WHERE user_id = ANY($1::bigint[])",
        [int(attacker.id), int(victim.id)],
    ) == 0


async def test_a_valid_token_for_a_user_that_does_not_exist(api: httpx.AsyncClient) -> None:
    token = TokenService(GATEWAY_KEY, 600).issue(2**62)
    for response in (
        await api.get("/api/users/profile", headers={"x-auth-token": token}),
        await api.post("/api/users/deposit", json={"amount": "1.00"},
                       headers={"x-auth-token": token}),
    ):
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthorized"


async def test_bearer_is_accepted_and_x_auth_token_wins(api: httpx.AsyncClient) -> None:
    alice, bob = await register(api, "hdr"), await register(api, "hdr")
    bearer = await api.get("/api/users/profile", headers={"authorization": f"Bearer {bob.token}"})
    assert bearer.status_code == 200
    assert bearer.json()["id"] == bob.id
    both = await api.get(
        "/api/users/profile",
        headers={"x-auth-token": alice.token, "authorization": f"Bearer {bob.token}"},
    )
    assert both.json()["id"] == alice.id


async def test_a_token_works_for_its_own_user_only(
    api: httpx.AsyncClient, db: asyncpg.Connection
) -> None:
    alice, bob = await register(api, "own"), await register(api, "own")
    response = await api.post("/api/users/deposit", json={"amount": "2.00"}, headers=bob.headers)
    assert response.status_code == 200
    assert await db.fetchval("SELECT balance FROM users WHERE id = $1", int(bob.id)) == 200
    assert await db.fetchval("SELECT balance FROM users WHERE id = $1", int(alice.id)) == 0
