"""One table from error code to HTTP status, and the error envelope for every error:
`{"error": {"code": ..., "message": ..., "details": {...}}}`."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from broker.connection import BrokerUnavailable
from broker.publisher import PublishFailed
from broker.rpc import RemoteError, RpcTimeout
from contracts import ErrorCode

log = logging.getLogger(__name__)

STATUS_BY_CODE: dict[ErrorCode, int] = {
    ErrorCode.INVALID_JSON: 400,
    ErrorCode.VALIDATION_ERROR: 400,
    ErrorCode.INVALID_AMOUNT: 400,
    ErrorCode.CANNOT_BUY_OWN_ITEM: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.INSUFFICIENT_FUNDS: 402,
    ErrorCode.NOT_OWNER: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.USER_NOT_FOUND: 404,
    ErrorCode.ITEM_NOT_FOUND: 404,
    ErrorCode.PURCHASE_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.USERNAME_TAKEN: 409,
    ErrorCode.EMAIL_TAKEN: 409,
    ErrorCode.IDEMPOTENCY_KEY_REUSED: 409,
    ErrorCode.ITEM_NOT_EDITABLE: 409,
    ErrorCode.ITEM_NOT_AVAILABLE: 409,
    ErrorCode.PAYLOAD_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.TOO_MANY_ATTEMPTS: 429,
    ErrorCode.INTERNAL_ERROR: 500,
    ErrorCode.SERVICE_UNAVAILABLE: 503,
    ErrorCode.TIMEOUT: 504,
}

_CODE_BY_HTTP_STATUS = {
    400: ErrorCode.VALIDATION_ERROR,
    401: ErrorCode.UNAUTHORIZED,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
}


class ApiError(Exception):
    """An error answered to the client with the envelope and the status of its code."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers


def error_response(
    code: ErrorCode,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code.value, "message": message}
    if details:
        body["details"] = details
    return Response(
        orjson.dumps({"error": body}),
        status_code=STATUS_BY_CODE[code],
        media_type="application/json",
        headers=headers,
    )


async def on_api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.code, exc.message, exc.details, exc.headers)


async def on_remote_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, RemoteError)
    reply = exc.reply
    return error_response(reply.code, reply.message, reply.details)


async def on_http_exception(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _CODE_BY_HTTP_STATUS.get(exc.status_code, ErrorCode.INTERNAL_ERROR)
    message = {404: "no such route", 405: "method not allowed"}.get(
        exc.status_code, str(exc.detail)
    )
    return error_response(code, message, headers=exc.headers)


async def on_timeout(_: Request, exc: Exception) -> Response:
    return error_response(
        ErrorCode.TIMEOUT, "the service did not answer in time; the outcome is unknown"
    )


async def on_unavailable(_: Request, exc: Exception) -> Response:
    log.warning("broker unavailable: %s", exc)
    return error_response(
        ErrorCode.SERVICE_UNAVAILABLE,
        "the message broker is unavailable; retry shortly",
        headers={"Retry-After": "1"},
    )


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """Starlette answers this one outside the request-id middleware: add the id here."""
    log.exception("unhandled error", exc_info=exc)
    request_id = request.scope.get("state", {}).get("request_id")
    headers = {"x-request-id": request_id} if request_id else None
    return error_response(ErrorCode.INTERNAL_ERROR, "internal error", headers=headers)


EXCEPTION_HANDLERS = {
    ApiError: on_api_error,
    RemoteError: on_remote_error,
    HTTPException: on_http_exception,
    RpcTimeout: on_timeout,
    BrokerUnavailable: on_unavailable,
    PublishFailed: on_unavailable,
    Exception: on_unexpected,
}
