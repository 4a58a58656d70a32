"""The shortest path through the whole stack: register, deposit, read the profile."""

from __future__ import annotations

import httpx

from tests.support.users import deposit, register


async def test_register_deposit_profile(api: httpx.AsyncClient) -> None:
    user = await register(api)
    assert (await deposit(api, user, "12.50"))["balance"] == "12.50"
    profile = await api.get("/api/users/profile", headers=user.headers)
    assert profile.status_code == 200
    assert profile.json()["balance"] == "12.50"
    assert profile.headers["x-request-id"]
