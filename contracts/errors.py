"""The error envelope and its stable, machine-readable codes.

Workers never send exceptions over the wire: a refusal travels as an `ErrorReply`
with a code from `ErrorCode`; the gateway maps codes to HTTP statuses in one table.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, ClassVar

from pydantic import Field

from contracts.base import Reply


class ErrorCode(StrEnum):
    # request shape
    INVALID_JSON = "invalid_json"
    VALIDATION_ERROR = "validation_error"
    INVALID_AMOUNT = "invalid_amount"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    # authentication
    UNAUTHORIZED = "unauthorized"
    INVALID_CREDENTIALS = "invalid_credentials"
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    # accounts
    USERNAME_TAKEN = "username_taken"
    EMAIL_TAKEN = "email_taken"
    USER_NOT_FOUND = "user_not_found"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    # items
    ITEM_NOT_FOUND = "item_not_found"
    NOT_OWNER = "not_owner"
    ITEM_NOT_EDITABLE = "item_not_editable"
    ITEM_NOT_AVAILABLE = "item_not_available"
    # purchases
    CANNOT_BUY_OWN_ITEM = "cannot_buy_own_item"
    PURCHASE_NOT_FOUND = "purchase_not_found"
    # infrastructure
    TIMEOUT = "timeout"
    SERVICE_UNAVAILABLE = "service_unavailable"
    INTERNAL_ERROR = "internal_error"


class ErrorReply(Reply):
    """A refusal or failure.
    Example: {"code": "insufficient_funds", "message": "...", "details": {}}"""

    name: ClassVar[str] = "error"

    code: ErrorCode
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class Refusal(Exception):
    """A business refusal raised by a handler; the consumer answers it as an ErrorReply."""

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.details = details or {}

    def reply(self) -> ErrorReply:
        return ErrorReply(code=self.code, message=self.message, details=self.details)
