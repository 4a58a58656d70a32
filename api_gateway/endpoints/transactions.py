"""Transactions endpoints: buy an item (a saga), follow a purchase, list one's purchases
and sales.

A purchase waits up to PURCHASE_WAIT_SECONDS for its saga to end: `201` with the
transaction, or the error status of the step that failed; past the wait, `202` with the
purchase id to poll. The purchase id comes from the Idempotency-Key when given, so a
retried request finds the first purchase instead of buying again.
"""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import Response

from api_gateway.auth import authenticated_user
from api_gateway.endpoints.accounts import idempotent_id
from api_gateway.endpoints.common import call, respond
from api_gateway.errors import ApiError
from api_gateway.pagination import encode_cursor, page_after, page_limit
from api_gateway.schemas.common import ErrorBody
from api_gateway.schemas.transactions import (
    PurchasePendingOut,
    PurchaseStatusOut,
    TransactionListOut,
    TransactionOut,
)
from broker.rpc import RpcTimeout
from contracts import ErrorCode
from contracts.products import format_item_id, parse_item_id
from contracts.transactions import (
    GetPurchase,
    ListPurchases,
    ListSales,
    PurchaseItem,
    PurchaseOutcome,
    PurchaseStatus,
    Sale,
    SalePage,
    SalePosition,
)


def transaction_out(sale: Sale) -> TransactionOut:
    return TransactionOut(
        id=sale.public_id,
        purchase_id=str(sale.purchase_id),
        item_id=format_item_id(sale.seller_id, sale.item_id),
        seller_id=str(sale.seller_id),
        buyer_id=str(sale.buyer_id),
        amount=sale.amount_cents,
        created_at=sale.created_at,
    )


def page_out(page: SalePage) -> TransactionListOut:
    return TransactionListOut(
        transactions=[transaction_out(sale) for sale in page.sales],
        next_cursor=encode_cursor(page.next_after),
    )


def _failure(outcome: PurchaseOutcome) -> ApiError:
    return ApiError(
        outcome.error_code or ErrorCode.INTERNAL_ERROR,
        outcome.error_message or "the purchase failed",
        {"purchase_id": str(outcome.purchase_id)},
    )


async def purchase(request: Request) -> Response:
    buyer_id = authenticated_user(request)
    key = parse_item_id(request.path_params["id"])
    if key is None:
        raise ApiError(ErrorCode.ITEM_NOT_FOUND, "no such item")
    seller_id, item_id = key
    if seller_id == buyer_id:  # the products service refuses it too
        raise ApiError(ErrorCode.CANNOT_BUY_OWN_ITEM, "you cannot buy your own item")
    purchase_id = idempotent_id(buyer_id, request, "purchase")
    command = PurchaseItem(
        purchase_id=purchase_id, buyer_id=buyer_id, seller_id=seller_id, item_id=item_id
    )
    try:
        outcome: PurchaseOutcome = await call(
            request, command, timeout=request.state.settings.purchase_wait_seconds
        )
    except RpcTimeout:
        return respond(PurchasePendingOut(purchase_id=str(purchase_id)), 202)
    if outcome.status is PurchaseStatus.COMPLETED and outcome.sale is not None:
        return respond(transaction_out(outcome.sale), 201)
    if outcome.status is PurchaseStatus.FAILED:
        raise _failure(outcome)
    return respond(PurchasePendingOut(purchase_id=str(purchase_id)), 202)


async def purchase_status(request: Request) -> Response:
    buyer_id = authenticated_user(request)
    try:
        purchase_id = uuid.UUID(request.path_params["id"])
    except ValueError:
        raise ApiError(ErrorCode.PURCHASE_NOT_FOUND, "no such purchase") from None
    outcome: PurchaseOutcome = await call(
        request, GetPurchase(buyer_id=buyer_id, purchase_id=purchase_id)
    )
    error = None
    if outcome.status is PurchaseStatus.FAILED:
        error = ErrorBody(
            code=(outcome.error_code or ErrorCode.INTERNAL_ERROR).value,
            message=outcome.error_message or "the purchase failed",
        )
    return respond(PurchaseStatusOut(
        purchase_id=str(outcome.purchase_id),
        status=outcome.status,
        transaction=transaction_out(outcome.sale) if outcome.sale else None,
        error=error,
    ))


async def purchases(request: Request) -> Response:
    buyer_id = authenticated_user(request)
    limit, after = page_limit(request), page_after(request, SalePosition)
    page: SalePage = await call(request, ListPurchases(buyer_id=buyer_id, limit=limit, after=after))
    return respond(page_out(page))


async def sales(request: Request) -> Response:
    seller_id = authenticated_user(request)
    limit, after = page_limit(request), page_after(request, SalePosition)
    page: SalePage = await call(request, ListSales(seller_id=seller_id, limit=limit, after=after))
    return respond(page_out(page))
