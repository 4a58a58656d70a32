"""The report endpoint: the caller's figures from the reports read model."""

from __future__ import annotations

import re
from datetime import date

from starlette.requests import Request
from starlette.responses import Response

from api_gateway.auth import authenticated_user
from api_gateway.endpoints.common import call, respond
from api_gateway.errors import ApiError
from api_gateway.schemas.reports import ReportDayOut, ReportOut, Totals
from contracts import ErrorCode
from contracts.reports import GetReport, Report

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

QUERY_PARAMETERS = {
    "from": "First UTC day to include, YYYY-MM-DD (inclusive).",
    "to": "Last UTC day to include, YYYY-MM-DD (inclusive).",
}


def _date_parameter(request: Request, name: str) -> date | None:
    """A YYYY-MM-DD query parameter (Python's fromisoformat alone also takes 20261126)."""
    value = request.query_params.get(name)
    if value is None:
        return None
    try:
        if not _DATE.fullmatch(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            f"{name} must be a date as YYYY-MM-DD",
            {"fields": [{"field": name, "message": "expected YYYY-MM-DD"}]},
        ) from None


def report_out(report: Report) -> ReportOut:
    return ReportOut(
        purchases=Totals(count=report.purchases_count, total=report.purchases_total_cents),
        sales=Totals(count=report.sales_count, total=report.sales_total_cents),
        by_day=[
            ReportDayOut(
                date=day.day,
                purchases_count=day.purchases_count,
                purchases_total=day.purchases_total_cents,
                sales_count=day.sales_count,
                sales_total=day.sales_total_cents,
            )
            for day in report.days
        ],
    )


async def report(request: Request) -> Response:
    user_id = authenticated_user(request)
    date_from = _date_parameter(request, "from")
    date_to = _date_parameter(request, "to")
    if date_from and date_to and date_from > date_to:
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            "from must not be after to",
            {"fields": [{"field": "from", "message": "after to"}]},
        )
    result: Report = await call(
        request, GetReport(user_id=user_id, date_from=date_from, date_to=date_to)
    )
    return respond(report_out(result))
