"""The gateway's one route table."""

from __future__ import annotations

from starlette.convertors import register_url_convertor
from starlette.routing import Route

from api_gateway import asyncapi, health, openapi
from api_gateway.endpoints import accounts, items, reports, transactions
from api_gateway.openapi import ApiRoute, Operation
from api_gateway.schemas.accounts import (
    AuthOut,
    DepositBody,
    DepositOut,
    LoginBody,
    RegisterBody,
    UserOut,
)
from api_gateway.schemas.items import ItemCreateBody, ItemListOut, ItemOut, ItemUpdateBody
from api_gateway.schemas.reports import ReportOut
from api_gateway.schemas.transactions import (
    PurchasePendingOut,
    PurchaseStatusOut,
    TransactionListOut,
    TransactionOut,
)
from contracts import ErrorCode as E

register_url_convertor("anytext", items.AnyTextConvertor())

IDEMPOTENCY_KEY = {"Idempotency-Key": "Retrying with the same key applies the request once."}
PAGE = {
    "limit": "Items per page, 1 to 100 (default 20).",
    "cursor": "The previous page's next_cursor (opaque).",
}
FEED = {
    **PAGE,
    "status": "available (default), sold, or all (available, reserved and sold).",
}

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
    ApiRoute("/api/items", items.list_items, method="GET", doc=Operation(
        "The newest items, page by page", "items", 200, ItemListOut,
        errors=(E.VALIDATION_ERROR,), query=FEED, description=items.FEED_DOC)),
    ApiRoute("/api/items", items.create_item, method="POST", doc=Operation(
        "List an item for sale (the caller is the seller)", "items", 201, ItemOut,
        ItemCreateBody, auth=True, errors=(E.IDEMPOTENCY_KEY_REUSED,), headers=IDEMPOTENCY_KEY,
        description=items.CREATE_DOC)),
    ApiRoute("/api/items/search/{query:anytext}", items.search_items, method="GET", doc=Operation(
        "Full-text search of available items, best match first", "items", 200, ItemListOut,
        errors=(E.VALIDATION_ERROR,), query=PAGE, description=items.SEARCH_DOC)),
    ApiRoute("/api/items/user/{userId}", items.user_items, method="GET", doc=Operation(
        "A user's items of every status, newest first", "items", 200, ItemListOut,
        errors=(E.VALIDATION_ERROR, E.USER_NOT_FOUND), query=PAGE,
        description=items.USER_ITEMS_DOC)),
    ApiRoute("/api/items/{id}", items.get_item, method="GET", doc=Operation(
        "One item, of any status", "items", 200, ItemOut, errors=(E.ITEM_NOT_FOUND,),
        description=items.ID_DOC)),
    ApiRoute("/api/items/{id}", items.update_item, method="PUT", doc=Operation(
        "Change any of title, description, price of one's own available item", "items", 200,
        ItemOut, ItemUpdateBody, auth=True,
        errors=(E.NOT_OWNER, E.ITEM_NOT_FOUND, E.ITEM_NOT_EDITABLE),
        description=items.UPDATE_DOC)),
    ApiRoute("/api/items/{id}", items.delete_item, method="DELETE", doc=Operation(
        "Withdraw one's own available item (deleted for good)", "items", 204,
        auth=True, errors=(E.NOT_OWNER, E.ITEM_NOT_FOUND, E.ITEM_NOT_EDITABLE),
        description=items.DELETE_DOC)),
    ApiRoute("/api/transactions/purchase/{id}", transactions.purchase, method="POST",
             doc=Operation(
        "Buy an item (`id`: the item's id): 201 with the transaction when the purchase saga"
        " ends within a few seconds, else 202 with the purchase id to poll", "transactions",
        201, TransactionOut, auth=True, headers=IDEMPOTENCY_KEY,
        errors=(E.ITEM_NOT_FOUND, E.ITEM_NOT_AVAILABLE, E.CANNOT_BUY_OWN_ITEM,
                E.INSUFFICIENT_FUNDS, E.IDEMPOTENCY_KEY_REUSED),
        extra_responses={202: ("the purchase is still running", PurchasePendingOut)})),
    ApiRoute("/api/transactions/purchase/{id}", transactions.purchase_status, method="GET",
             doc=Operation(
        "Where one of the caller's purchases stands (`id`: the purchase id)", "transactions",
        200, PurchaseStatusOut, auth=True, errors=(E.PURCHASE_NOT_FOUND,))),
    ApiRoute("/api/transactions/purchases", transactions.purchases, method="GET", doc=Operation(
        "The caller's completed purchases, newest first", "transactions", 200,
        TransactionListOut, auth=True, errors=(E.VALIDATION_ERROR,), query=PAGE)),
    ApiRoute("/api/transactions/sales", transactions.sales, method="GET", doc=Operation(
        "The caller's sales, newest first", "transactions", 200, TransactionListOut,
        auth=True, errors=(E.VALIDATION_ERROR,), query=PAGE)),
    ApiRoute("/api/transactions/reports", reports.report, method="GET", doc=Operation(
        "The caller's purchases and sales, in total and per UTC day", "transactions", 200,
        ReportOut, auth=True, errors=(E.VALIDATION_ERROR,), query=reports.QUERY_PARAMETERS)),
    Route("/health", health.health, methods=["GET"]),
    Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
    Route("/asyncapi.json", asyncapi.asyncapi_json, methods=["GET"]),
    Route("/docs", openapi.docs_page, methods=["GET"]),
]
