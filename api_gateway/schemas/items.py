"""The items endpoints' bodies (`api.md`, Items). Clients set only title, description
and price: any other field (`seller_id`, `status`, `id`, …) is a 400."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from api_gateway.schemas.common import Id, Input, Output, Timestamp
from contracts.money import Money, MoneyInput
from contracts.products import Description, ItemStatus, Title

_PRICE_DOC = {"type": ["string", "number"], "examples": ["12.50"]}
_PRICE_INPUT = 'From 0.01 to 1000000.00: a number or a string with at most two decimals ("12.50")'


class ItemCreateBody(Input):
    """A new item; the seller is the caller."""

    title: Title = Field(description="1 to 200 characters, not blank")
    description: Description = Field(default="", description="Up to 5000 characters")
    price: MoneyInput = Field(description=_PRICE_INPUT, json_schema_extra=_PRICE_DOC)


class ItemUpdateBody(Input):
    """Any of the three fields, at least one; the others keep their value."""

    title: Title | None = Field(default=None, description="1 to 200 characters, not blank")
    description: Description | None = Field(default=None, description="Up to 5000 characters")
    price: MoneyInput | None = Field(
        default=None, description=_PRICE_INPUT, json_schema_extra=_PRICE_DOC
    )

    @field_validator("title", "description", "price", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        """Leaving a field out keeps it; null is not a value any of them can take."""
        if value is None:
            raise ValueError("must not be null (leave the field out to keep it)")
        return value

    @model_validator(mode="after")
    def _something_to_change(self) -> ItemUpdateBody:
        if not self.model_fields_set:
            raise ValueError("give at least one of title, description, price")
        return self


class ItemOut(Output):
    id: Id = Field(examples=["3-41"])
    seller_id: Id = Field(examples=["3"])
    title: str
    description: str
    price: Money = Field(json_schema_extra={"type": "string", "examples": ["12.50"]})
    status: ItemStatus
    created_at: Timestamp
    updated_at: Timestamp


class ItemListOut(Output):
    items: list[ItemOut]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last page"
    )
