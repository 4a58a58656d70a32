"""`GET /api/transactions/reports` through the whole stack: real purchases through the
saga show, within a second or two, in both the buyer's and the seller's report; events
published to `itemx.events` show too; from/to narrow it; bad input is a 400."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support.items import create_item
from tests.support.purchases import buy, outcome
from tests.support.reports import eventually, publish_events, purchase
from tests.support.users import TestUser, deposit, register

EMPTY = {"purchases": {"count": 0, "total": "0.00"}, "sales": {"count": 0, "total": "0.00"},
         "by_day": []}


async def report(api: httpx.AsyncClient, user: TestUser, **params: str) -> dict[str, Any]:
    response = await api.get("/api/transactions/reports", headers=user.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def report_once(
    api: httpx.AsyncClient, user: TestUser, check: Any, timeout: float = 10.0
) -> dict[str, Any]:
    """The user's report once `check(report)` holds (it is eventually consistent)."""
    latest: dict[str, Any] = {}

    async def holds() -> bool:
        nonlocal latest
        latest = await report(api, user)
        return bool(check(latest))

    await eventually(holds, timeout=timeout, what="the report")
    return latest


async def test_real_purchases_show_for_buyer_and_seller(api: httpx.AsyncClient) -> None:
    seller = await register(api, "seller")
    buyer = await register(api, "buyer")
    await deposit(api, buyer, "100.00")
    lamp = await create_item(api, seller, "Lamp", "12.50")
    chair = await create_item(api, seller, "Chair", "7.25")
    for item in (lamp, chair):
        assert await outcome(api, buyer, await buy(api, buyer, item["id"])) == "completed"

    started = time.monotonic()
    mine = await report_once(api, buyer, lambda r: r["purchases"]["count"] == 2)
    assert time.monotonic() - started < 5, "a completed purchase shows within a second or two"
    today = datetime.now(UTC).date().isoformat()
    assert mine == {
        "purchases": {"count": 2, "total": "19.75"},
        "sales": {"count": 0, "total": "0.00"},
        "by_day": [{"date": today, "purchases_count": 2, "purchases_total": "19.75",
                    "sales_count": 0, "sales_total": "0.00"}],
    }
    theirs = await report_once(api, seller, lambda r: r["sales"]["count"] == 2)
    assert theirs["sales"] == {"count": 2, "total": "19.75"}
    assert theirs["purchases"] == {"count": 0, "total": "0.00"}
    assert theirs["by_day"][0]["date"] == today


async def test_days_and_from_to_narrowing(api: httpx.AsyncClient, amqp_url: str) -> None:
    buyer = await register(api, "buyer")
    seller = await register(api, "seller")
    first, second = datetime(2026, 1, 30, 23, 59, tzinfo=UTC), datetime(2026, 2, 2, tzinfo=UTC)
    events = [purchase(int(buyer.id), int(seller.id), 1000, first),
              purchase(int(buyer.id), int(seller.id), 5, second),
              purchase(int(seller.id), int(buyer.id), 40, second)]
    await publish_events(amqp_url, *events)

    full = await report_once(api, buyer, lambda r: len(r["by_day"]) == 2 and (
        r["sales"]["count"] == 1))
    assert full["purchases"] == {"count": 2, "total": "10.05"}
    assert full["sales"] == {"count": 1, "total": "0.40"}
    assert [day["date"] for day in full["by_day"]] == ["2026-01-30", "2026-02-02"]
    assert full["by_day"][1] == {"date": "2026-02-02", "purchases_count": 1,
                                 "purchases_total": "0.05", "sales_count": 1,
                                 "sales_total": "0.40"}

    assert (await report(api, buyer, **{"from": "2026-02-02"}))["by_day"] == full["by_day"][1:]
    assert (await report(api, buyer, to="2026-01-30"))["purchases"] == {
        "count": 1, "total": "10.00"}
    inclusive = await report(api, buyer, **{"from": "2026-01-30", "to": "2026-02-02"})
    assert inclusive == full
    assert await report(api, buyer, **{"from": "2026-01-31", "to": "2026-02-01"}) == EMPTY


async def test_a_user_without_purchases_has_an_empty_report(api: httpx.AsyncClient) -> None:
    assert await report(api, await register(api, "idle")) == EMPTY


async def test_report_needs_a_token(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/transactions/reports")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    bad = await api.get("/api/transactions/reports", headers={"x-auth-token": "not.a.jwt"})
    assert bad.status_code == 401


@pytest.mark.parametrize("params", [
    {"from": "2026-13-01"}, {"from": "20260101"}, {"to": "yesterday"}, {"to": ""},
    {"from": "2026-02-30"}, {"from": "2026-03-02", "to": "2026-03-01"},
    {"from": "2026-01-01T00:00:00"}, {"to": "２０２６-01-01"}, {"to": "2026-01-01\n"},
])
async def test_bad_dates_are_a_validation_error(
    api: httpx.AsyncClient, params: dict[str, str]
) -> None:
    user = await register(api, "dates")
    response = await api.get("/api/transactions/reports", headers=user.headers, params=params)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "validation_error"


async def test_the_openapi_and_asyncapi_documents_are_served(api: httpx.AsyncClient) -> None:
    openapi = (await api.get("/openapi.json")).json()
    parameters = openapi["paths"]["/api/transactions/reports"]["get"]["parameters"]
    assert {p["name"] for p in parameters} == {"from", "to"}
    asyncapi = await api.get("/asyncapi.json")
    assert asyncapi.status_code == 200
    assert asyncapi.headers["content-type"].startswith("application/json")
    assert "purchase.completed" in asyncapi.json()["channels"]

