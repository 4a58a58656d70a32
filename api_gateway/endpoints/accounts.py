"""Accounts endpoints: register, login, profile, deposit."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

from starlette.requests import Request
from starlette.responses import Response

from api_gateway.auth import authenticated_user
from api_gateway.bodies import read_json
from api_gateway.endpoints.common import call, respond
from api_gateway.errors import ApiError
from api_gateway.schemas.accounts import (
    AuthOut,
    DepositBody,
    DepositOut,
    LoginBody,
    RegisterBody,
    UserOut,
)
from broker.rpc import RemoteError
from contracts import ErrorCode
from contracts.accounts import Deposit, DepositResult, GetUser, Login, Register, User

IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0f4f3e-8f7c-4a43-9a43-6f1d7c1e0a01")


def user_out(user: User) -> UserOut:
    return UserOut(
        id=str(user.id),
        username=user.username,
        email=user.email,
        balance=user.balance_cents,
        created_at=user.created_at,
    )


def idempotent_id(user_id: int, request: Request, scope: str) -> uuid.UUID:
    """The command id for this request: derived from the Idempotency-Key when given,
    so a retried request carries the same id and the worker applies it once."""
    key = request.headers.get("idempotency-key")
    if not key:
        return uuid.uuid4()
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{scope}:{user_id}:{key}")


async def register(request: Request) -> Response:
    body = await read_json(request, RegisterBody)
    user: User = await call(
        request,
        Register(
            register_id=uuid.uuid4(),
            username=body.username,
            email=body.email,
            password=body.password,
        ),
    )
    token = request.state.tokens.issue(user.id)
    return respond(AuthOut(user=user_out(user), token=token), 201)


async def login(request: Request) -> Response:
    body = await read_json(request, LoginBody)
    address = request.client.host if request.client else ""
    user: User = await call(
        request, Login(login=body.login, password=body.password, client_address=address)
    )
    token = request.state.tokens.issue(user.id)
    return respond(AuthOut(user=user_out(user), token=token))


@contextlib.contextmanager
def caller_must_exist() -> Iterator[None]:
    """A signed token whose user is gone (a database reset) authenticates nobody: 401,
    as api.md lists for these routes, not the 404 the worker answers."""
    try:
        yield
    except RemoteError as exc:
        if exc.reply.code == ErrorCode.USER_NOT_FOUND:
            raise ApiError(ErrorCode.UNAUTHORIZED, "the token's user does not exist") from exc
        raise


async def profile(request: Request) -> Response:
    user_id = authenticated_user(request)
    with caller_must_exist():
        user: User = await call(request, GetUser(user_id=user_id))
    return respond(user_out(user))


async def deposit(request: Request) -> Response:
    user_id = authenticated_user(request)
    body = await read_json(request, DepositBody)
    with caller_must_exist():
        result: DepositResult = await call(
            request,
            Deposit(
                user_id=user_id,
                deposit_id=idempotent_id(user_id, request, "deposit"),
                amount_cents=body.amount,
            ),
        )
    return respond(DepositOut(balance=result.balance_cents, deposit_id=str(result.deposit_id)))
