"""List parameters every paginated route shares: `?limit=` and the opaque `?cursor=`.

A cursor is the URL-safe base64 (unpadded) of the compact JSON of where the previous
page ended, a position model of the contracts (for example `FeedPosition`). Clients
must not parse it; the gateway refuses one it did not make (or a mangled one) with
`400 validation_error`, so nothing malformed reaches a worker.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from api_gateway.errors import ApiError
from contracts import ErrorCode

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_CURSOR_LENGTH = 512

Position = TypeVar("Position", bound=BaseModel)

_DIGITS = re.compile(r"[0-9]{1,4}")


def invalid_parameter(name: str, message: str) -> ApiError:
    """A 400 for a query or path parameter, in the shape body validation errors have."""
    return ApiError(
        ErrorCode.VALIDATION_ERROR,
        f"invalid {name}: {message}",
        {"fields": [{"field": name, "message": message}]},
    )


def page_limit(request: Request) -> int:
    """`?limit=`: 1 to 100, 20 when absent."""
    given = request.query_params.get("limit")
    if given is None:
        return DEFAULT_LIMIT
    if not _DIGITS.fullmatch(given) or not 1 <= int(given) <= MAX_LIMIT:
        raise invalid_parameter("limit", f"must be an integer from 1 to {MAX_LIMIT}")
    return int(given)


def encode_cursor(position: BaseModel | None) -> str | None:
    """The opaque cursor of a position; None (no next page) stays None."""
    if position is None:
        return None
    return base64.urlsafe_b64encode(position.model_dump_json().encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str, model: type[Position]) -> Position:
    """The position in a cursor made by `encode_cursor`, or a 400."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid_parameter("cursor", "not a cursor from a previous page")
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        return model.model_validate_json(raw)
    except (binascii.Error, ValueError, ValidationError) as exc:
        raise invalid_parameter("cursor", "not a cursor from a previous page") from exc


def page_after(request: Request, model: type[Position]) -> Position | None:
    """`?cursor=`: where the previous page ended, None for the first page."""
    cursor = request.query_params.get("cursor")
    return None if cursor is None else decode_cursor(cursor, model)


def one_of(request: Request, name: str, allowed: tuple[str, ...], default: str) -> Any:
    """A query parameter restricted to a few values (`?status=`)."""
    given = request.query_params.get(name, default)
    if given not in allowed:
        raise invalid_parameter(name, "must be one of " + ", ".join(allowed))
    return given
