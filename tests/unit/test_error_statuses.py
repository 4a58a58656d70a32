"""One table maps every error code to its HTTP status; a new code without a status
would answer 500 by accident (KeyError), so the table must stay complete."""

from __future__ import annotations

import orjson
import pytest

from api_gateway.errors import STATUS_BY_CODE, error_response
from contracts import ErrorCode


def test_every_error_code_has_a_status() -> None:
    assert set(STATUS_BY_CODE) == set(ErrorCode)


def test_statuses_are_client_or_server_errors() -> None:
    for code, status in STATUS_BY_CODE.items():
        assert 400 <= status <= 599, code
    server_side = {c for c, s in STATUS_BY_CODE.items() if s >= 500}
    assert server_side == {
        ErrorCode.INTERNAL_ERROR, ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.TIMEOUT
    }


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (ErrorCode.INVALID_JSON, 400), (ErrorCode.VALIDATION_ERROR, 400),
        (ErrorCode.INVALID_AMOUNT, 400), (ErrorCode.UNAUTHORIZED, 401),
        (ErrorCode.INVALID_CREDENTIALS, 401), (ErrorCode.INSUFFICIENT_FUNDS, 402),
        (ErrorCode.NOT_OWNER, 403), (ErrorCode.NOT_FOUND, 404),
        (ErrorCode.METHOD_NOT_ALLOWED, 405), (ErrorCode.USERNAME_TAKEN, 409),
        (ErrorCode.EMAIL_TAKEN, 409), (ErrorCode.IDEMPOTENCY_KEY_REUSED, 409),
        (ErrorCode.PAYLOAD_TOO_LARGE, 413), (ErrorCode.TOO_MANY_ATTEMPTS, 429),
        (ErrorCode.SERVICE_UNAVAILABLE, 503), (ErrorCode.TIMEOUT, 504),
    ],
)
def test_the_statuses_api_md_names(code: ErrorCode, status: int) -> None:
    assert STATUS_BY_CODE[code] == status


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_renders_the_error_envelope(code: ErrorCode) -> None:
    response = error_response(code, "why", {"fields": ["x"]})
    assert response.status_code == STATUS_BY_CODE[code]
    assert response.media_type == "application/json"
    assert orjson.loads(response.body) == {
        "error": {"code": code.value, "message": "why", "details": {"fields": ["x"]}}
    }
