"""The transactions endpoints' bodies (`api.md`, Transactions)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from api_gateway.schemas.common import ErrorBody, Id, Output, Timestamp
from contracts.money import Money
from contracts.transactions import PurchaseStatus


class TransactionOut(Output):
    """A completed purchase: the buyer's purchase and the seller's sale."""

    id: Id = Field(examples=["3-91"])
    purchase_id: Id = Field(examples=["6f1c2a9e-1d1b-4a3e-9a43-0f1d7c1e0a01"])
    item_id: Id = Field(examples=["3-41"])
    seller_id: Id = Field(examples=["3"])
    buyer_id: Id = Field(examples=["7"])
    amount: Money = Field(json_schema_extra={"type": "string", "examples": ["12.50"]})
    status: Literal["completed"] = "completed"
    created_at: Timestamp


class TransactionListOut(Output):
    transactions: list[TransactionOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last page"
    )


class PurchasePendingOut(Output):
    """The saga did not end within the gateway's wait: poll the purchase's status."""

    purchase_id: Id
    status: Literal["pending"] = "pending"


class PurchaseStatusOut(Output):
    """Where a purchase stands: `transaction` once completed, `error` once failed."""

    purchase_id: Id
    status: PurchaseStatus
    transaction: TransactionOut | None = None
    error: ErrorBody | None = None
