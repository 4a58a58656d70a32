"""Reading request bodies: size limit, strict JSON, and validation into an API model.

JSON is parsed with decimals kept exact (`12.345` stays `Decimal("12.345")`, `1e3`
keeps its exponent) so that money is checked on what the client wrote; NaN and
Infinity are refused.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from api_gateway.errors import ApiError
from contracts import ErrorCode

Model = TypeVar("Model", bound=BaseModel)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise ApiError(ErrorCode.PAYLOAD_TOO_LARGE, f"body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(ErrorCode.PAYLOAD_TOO_LARGE, f"body is larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    """Strict UTF-8 first: `json.loads(bytes)` would let encoded surrogates through
    ("surrogatepass") and guess UTF-16 or UTF-32."""
    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError too
        raise ApiError(ErrorCode.INVALID_JSON, "the body is not valid JSON") from exc


def validate(model: type[Model], data: Any) -> Model:
    if not isinstance(data, dict):
        raise ApiError(ErrorCode.VALIDATION_ERROR, "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = [
            {"field": ".".join(str(p) for p in error["loc"]) or "body", "message": error["msg"]}
            for error in exc.errors(include_url=False, include_context=False, include_input=False)
        ]
        money_fields = getattr(model, "money_fields", frozenset())
        code = ErrorCode.VALIDATION_ERROR
        if fields and all(f["field"] in money_fields for f in fields):
            code = ErrorCode.INVALID_AMOUNT
        raise ApiError(code, "the request body is invalid", {"fields": fields}) from None


async def read_json(request: Request, model: type[Model]) -> Model:
    """The body validated into `model`: 413 over the limit, 400 for bad JSON or fields."""
    raw = await read_body(request, request.state.settings.max_body_bytes)
    return validate(model, parse_json(raw))
