"""The report endpoint's body (`api.md`, Transactions: `report`)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from api_gateway.schemas.common import Output
from contracts.money import Money

MONEY = {"type": "string", "examples": ["12.50"]}


class Totals(Output):
    count: int
    total: Money = Field(json_schema_extra=MONEY)


class ReportDayOut(Output):
    date: dt.date = Field(description="A UTC day, YYYY-MM-DD")
    purchases_count: int
    purchases_total: Money = Field(json_schema_extra=MONEY)
    sales_count: int
    sales_total: Money = Field(json_schema_extra=MONEY)


class ReportOut(Output):
    """The caller's purchases and sales, in total and per UTC day (oldest first); only
    days with activity are listed."""

    purchases: Totals
    sales: Totals
    by_day: list[ReportDayOut]
