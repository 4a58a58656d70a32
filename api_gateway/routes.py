"""The gateway's one route table."""

from __future__ import annotations

from starlette.routing import Route

from api_gateway import health, openapi
from api_gateway.endpoints import accounts
from api_gateway.openapi import ApiRoute, Operation
from api_gateway.schemas.accounts import (
    AuthOut,
    DepositBody,
    DepositOut,
    LoginBody,
    RegisterBody,
    UserOut,
)
from contracts import ErrorCode as E

IDEMPOTENCY_KEY = {"Idempotency-Key": "Retrying with the same key applies the request once."}

ROUTES = [
    ApiRoute("/api/auth/register", accounts.register, method="POST", doc=Operation(
        "Register a user", "accounts", 201, AuthOut, RegisterBody,
        errors=(E.USERNAME_TAKEN, E.EMAIL_TAKEN))),
    ApiRoute("/api/auth/login", accounts.login, method="POST", doc=Operation(
        "Log in with username or email", "accounts", 200, AuthOut, LoginBody,
        errors=(E.INVALID_CREDENTIALS, E.TOO_MANY_ATTEMPTS))),
    ApiRoute("/api/users/profile", accounts.profile, method="GET", doc=Operation(
        "The caller's profile", "accounts", 200, UserOut, auth=True)),
    ApiRoute("/api/users/deposit", accounts.deposit, method="POST", doc=Operation(
        "Deposit funds", "accounts", 200, DepositOut, DepositBody, auth=True,
        errors=(E.INVALID_AMOUNT, E.IDEMPOTENCY_KEY_REUSED), headers=IDEMPOTENCY_KEY)),
    Route("/health", health.health, methods=["GET"]),
    Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
    Route("/docs", openapi.docs_page, methods=["GET"]),
]
