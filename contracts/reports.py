"""The reports query of the transactions service (queue `transactions.queries`).

A report is a read model built from `purchase.completed` events: eventually consistent,
a completed purchase shows within a second or two.
"""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from contracts.base import Query, Reply


class ReportDay(BaseModel):
    """One UTC day of a user's figures. Example: {"day": "2026-11-26", "purchases_count": 1,
    "purchases_total_cents": 1250, "sales_count": 0, "sales_total_cents": 0}"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    day: date
    purchases_count: int
    purchases_total_cents: int
    sales_count: int
    sales_total_cents: int


class Report(Reply):
    """A user's purchases and sales within the asked dates, with one entry per active day,
    oldest first. Example: {"user_id": 7, "purchases_count": 1, "purchases_total_cents": 1250,
    "sales_count": 0, "sales_total_cents": 0, "days": [{…}]}"""

    name: ClassVar[str] = "transactions.report"

    user_id: int
    purchases_count: int
    purchases_total_cents: int
    sales_count: int
    sales_total_cents: int
    days: tuple[ReportDay, ...]


class GetReport(Query):
    """A user's report, narrowed to `date_from`..`date_to` (inclusive, UTC dates) when given.
    Example: {"user_id": 7, "date_from": "2026-11-01", "date_to": null}"""

    name: ClassVar[str] = "transactions.get_report"
    reply: ClassVar[type[Reply]] = Report

    user_id: int
    date_from: date | None = None
    date_to: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> GetReport:
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError("date_from is after date_to")
        return self
