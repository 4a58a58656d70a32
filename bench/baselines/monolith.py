"""The purchase a user would build instead of a saga: one Starlette endpoint, one
PostgreSQL transaction — lock the item, lock both users (in id order: no deadlock
between two purchases crossing each other), debit the buyer, credit the seller (both
in the ledger), mark the item sold, record the sale. Same tables as the services
(`items`, `users`, `ledger`, `transactions`), same JWT check, same error envelope,
same HTTP layer, a pool the size of one worker's.

    DATABASE_URL=... JWT_SECRET=... MONOLITH_PORT=25004 python -m bench.baselines.monolith
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api_gateway.app import RequestIdMiddleware
from api_gateway.auth import TokenService, authenticated_user
from api_gateway.errors import EXCEPTION_HANDLERS, ApiError
from api_gateway.settings import GatewaySettings
from bench.baselines.serving import run
from contracts import ErrorCode
from contracts.money import format_money
from workers.common.settings import WorkerSettings

RETRIES = 3  # a deadlock or serialization failure retries the whole transaction


def parse_item_id(public_id: str) -> tuple[int, int]:
    seller, _, item = public_id.partition("-")
    if not (seller.isdigit() and item.isdigit()):
        raise ApiError(ErrorCode.ITEM_NOT_FOUND, "no such item")
    return int(seller), int(item)


async def buy(conn: asyncpg.Connection, buyer_id: int, seller_id: int, item_id: int) -> dict:
    """Reserve, debit, credit, record: all or nothing, in the caller's transaction."""
    purchase_id = uuid.uuid4()
    item = await conn.fetchrow(
        "SELECT price, status FROM items WHERE seller_id = $1 AND id = $2 FOR UPDATE",
        seller_id, item_id,
    )
    if item is None:
        raise ApiError(ErrorCode.ITEM_NOT_FOUND, "no such item")
    if item["status"] != "available":
        raise ApiError(ErrorCode.ITEM_NOT_AVAILABLE, "the item is not available")
    if buyer_id == seller_id:
        raise ApiError(ErrorCode.CANNOT_BUY_OWN_ITEM, "you cannot buy your own item")
    price = item["price"]
    balances = {
        row["id"]: row["balance"]
        for row in await conn.fetch(
            "SELECT id, balance FROM users WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
            [buyer_id, seller_id],
        )
    }
    if buyer_id not in balances or seller_id not in balances:
        raise ApiError(ErrorCode.USER_NOT_FOUND, "no such user")
    if balances[buyer_id] < price:
        raise ApiError(ErrorCode.INSUFFICIENT_FUNDS, "the balance does not cover the price")
    for user_id, kind, delta in ((buyer_id, "debit", -price), (seller_id, "credit", price)):
        balance = await conn.fetchval(
            "UPDATE users SET balance = balance + $2 WHERE id = $1 RETURNING balance",
            user_id, delta,
        )
        await conn.execute(
            "INSERT INTO ledger (user_id, kind, ref, amount, balance_after)"
            " VALUES ($1, $2, $3, $4, $5)",
            user_id, kind, purchase_id, price, balance,
        )
    await conn.execute(
        "UPDATE items SET status = 'sold', reserved_by = $3, buyer_id = $4, sold_at = now(),"
        " updated_at = now() WHERE seller_id = $1 AND id = $2",
        seller_id, item_id, purchase_id, buyer_id,
    )
    sale = await conn.fetchrow(
        "INSERT INTO transactions (seller_id, purchase_id, buyer_id, item_id, amount)"
        " VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at",
        seller_id, purchase_id, buyer_id, item_id, price,
    )
    return {
        "id": f"{seller_id}-{sale['id']}",
        "purchase_id": str(purchase_id),
        "item_id": f"{seller_id}-{item_id}",
        "seller_id": str(seller_id),
        "buyer_id": str(buyer_id),
        "amount": format_money(price),
        "status": "completed",
        "created_at": sale["created_at"],
    }


async def purchase(request: Request) -> Response:
    buyer_id = authenticated_user(request)
    seller_id, item_id = parse_item_id(request.path_params["item_id"])
    pool: asyncpg.Pool = request.state.pool
    for attempt in range(RETRIES):
        try:
            async with pool.acquire() as conn, conn.transaction():
                sale = await buy(conn, buyer_id, seller_id, item_id)
            break
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            if attempt == RETRIES - 1:
                raise
    return Response(orjson.dumps(sale), 201, media_type="application/json")


async def health(request: Request) -> Response:
    async with request.state.pool.acquire(timeout=2) as conn:
        await conn.fetchval("SELECT 1")
    return Response(b'{"status":"ok"}', media_type="application/json")


def create_app() -> Starlette:
    gateway = GatewaySettings()
    workers = WorkerSettings()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[dict[str, object]]:
        pool = await asyncpg.create_pool(
            workers.database_url, min_size=workers.db_pool_min, max_size=workers.db_pool_max
        )
        try:
            yield {
                "pool": pool,
                "settings": gateway,
                "tokens": TokenService(gateway.jwt_secret, gateway.jwt_ttl_seconds),
            }
        finally:
            await pool.close()

    return Starlette(
        routes=[
            Route("/api/transactions/purchase/{item_id}", purchase, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ],
        middleware=[Middleware(RequestIdMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=lifespan,
    )


if __name__ == "__main__":
    run(create_app(), "MONOLITH_PORT", 25004)
