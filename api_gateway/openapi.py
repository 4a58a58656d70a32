"""The OpenAPI document, generated from the route table and the API models, and a page
that renders it."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from api_gateway.errors import STATUS_BY_CODE
from api_gateway.schemas.common import ErrorEnvelope
from contracts import ErrorCode


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    status: int = 200
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    auth: bool = False
    errors: tuple[ErrorCode, ...] = ()
    query: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    extra_responses: dict[int, tuple[str, type[BaseModel] | None]] = field(default_factory=dict)
    description: str = ""
    """What the summary cannot say: semantics a client relies on (ordering, paging, …)."""


class ApiRoute(Route):
    """A route that carries its documentation."""

    def __init__(self, path: str, endpoint: Callable, *, method: str, doc: Operation):
        super().__init__(path, endpoint, methods=[method])
        self.method = method
        self.doc = doc


_REF = "#/components/schemas/{model}"


def _ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=_REF, mode="serialization")
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _input_ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template=_REF, mode="validation")
    for name, definition in schema.pop("$defs", {}).items():
        schemas[name] = definition
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def build_document(routes: Sequence[BaseRoute], version: str = "1.0.0") -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    error_ref = _ref(ErrorEnvelope, schemas)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, ApiRoute):
            continue
        doc = route.doc
        operation: dict[str, Any] = {
            "summary": doc.summary,
            "tags": [doc.tag],
            "operationId": route.name,
            "responses": {},
        }
        if doc.description:
            operation["description"] = doc.description
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in route.param_convertors
        ]
        parameters += [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
             "description": description}
            for name, description in doc.query.items()
        ]
        parameters += [
            {"name": name, "in": "header", "required": False, "schema": {"type": "string"},
             "description": description}
            for name, description in doc.headers.items()
        ]
        if parameters:
            operation["parameters"] = parameters
        if doc.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _input_ref(doc.body, schemas)}},
            }
        success: dict[str, Any] = {"description": "success"}
        if doc.response is not None:
            success["content"] = {"application/json": {"schema": _ref(doc.response, schemas)}}
        operation["responses"][str(doc.status)] = success
        for status, (description, model) in doc.extra_responses.items():
            extra: dict[str, Any] = {"description": description}
            if model is not None:
                extra["content"] = {"application/json": {"schema": _ref(model, schemas)}}
            operation["responses"][str(status)] = extra
        codes = list(doc.errors)
        if doc.body is not None:
            codes += [
                ErrorCode.INVALID_JSON, ErrorCode.VALIDATION_ERROR, ErrorCode.PAYLOAD_TOO_LARGE
            ]
        if doc.auth:
            codes.append(ErrorCode.UNAUTHORIZED)
            operation["security"] = [{"token": []}, {"bearer": []}]
        codes += [ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.TIMEOUT]
        by_status: dict[int, list[str]] = {}
        for code in dict.fromkeys(codes):
            by_status.setdefault(STATUS_BY_CODE[code], []).append(code.value)
        for status, names in sorted(by_status.items()):
            operation["responses"].setdefault(
                str(status),
                {
                    "description": "error codes: " + ", ".join(names),
                    "content": {"application/json": {"schema": error_ref}},
                },
            )
        # OpenAPI templates have no convertors: "/a/{rest:path}" -> "/a/{rest}"
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ItemExchange API",
            "version": version,
            "description": "An event-driven marketplace. Money is a string with two decimals;"
            " ids are opaque strings; every error is {error: {code, message, details}}.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "x-auth-token"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            },
        },
    }


async def openapi_json(request: Request) -> Response:
    document = request.state.openapi
    return Response(document, media_type="application/json")


DOCS_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>ItemExchange API</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head><body><div id="ui">
<p>The API document is at <a href="/openapi.json">/openapi.json</a>.</p></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>
if (window.SwaggerUIBundle) { SwaggerUIBundle({url: "/openapi.json", dom_id: "#ui"}); }
</script>
</body></html>"""


async def docs_page(_: Request) -> Response:
    return HTMLResponse(DOCS_PAGE)
