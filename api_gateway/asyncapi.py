"""The AsyncAPI 2.6 document of every event, generated from the contracts, so subscribers
have a machine-readable catalogue that cannot drift from the code.

One channel per event (its routing key on the topic exchange `itemx.events`), plus the
stream `itemx.events.log` that carries all of them for replay. Served by the gateway at
`/asyncapi.json`; `itemx asyncapi` writes it to `docs/asyncapi.json`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from functools import cache
from typing import Any

import orjson
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import Response

import contracts
from broker.topology import EVENTS_EXCHANGE, EVENTS_LOG_STREAM, STREAM_MAX_AGE
from contracts.base import Event, registered

ASYNCAPI_VERSION = "2.6.0"
AMQP_BINDING_VERSION = "0.2.0"
SCHEMA_REF = "#/components/schemas/{model}"

DESCRIPTION = (
    "Every fact ItemExchange publishes. Each event is published once per change to the"
    f" topic exchange `{EVENTS_EXCHANGE}` with its name as routing key, persistent, with"
    " publisher confirms, from a transactional outbox: delivery is at-least-once, so"
    " deduplicate by `event_id` (also the AMQP `message_id`). The body is JSON with `type`"
    " and `version` first; the AMQP `type` property is the event name and header"
    f" `x-version` its version. The stream `{EVENTS_LOG_STREAM}` keeps every event"
    f" ({STREAM_MAX_AGE}) for replay from an offset or a time. See docs/events.md."
)


def event_models() -> list[type[Event]]:
    """Every Event subclass of `contracts`, by name (every module is imported first)."""
    for module in pkgutil.iter_modules(contracts.__path__):
        importlib.import_module(f"{contracts.__name__}.{module.name}")
    models = [m for m in registered().values() if issubclass(m, Event) and m is not Event]
    return sorted(models, key=lambda model: model.name)


def _payload_schemas(models: list[type[Event]]) -> tuple[dict[type[Event], dict], dict]:
    """Each event's body schema (its fields plus `type` and `version`) and shared schemas."""
    refs, top = models_json_schema(
        [(model, "serialization") for model in models], ref_template=SCHEMA_REF
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    payloads = {}
    for model in models:
        key = refs[(model, "serialization")]["$ref"].rsplit("/", 1)[-1]
        schema = schemas[key]
        schema["properties"] = {
            "type": {"type": "string", "const": model.name},
            "version": {"type": "integer", "const": model.version},
            **schema["properties"],
        }
        schema["required"] = list(schema["properties"])  # a body carries every field
        schema["additionalProperties"] = False
        payloads[model] = {"$ref": SCHEMA_REF.format(model=key)}
    return payloads, schemas


def _message(model: type[Event], payload: dict[str, Any]) -> dict[str, Any]:
    doc = inspect.cleandoc(model.__doc__ or "")
    return {
        "name": model.name,
        "title": f"{model.name} v{model.version}",
        "summary": doc.split("Example:")[0].strip() or model.name,
        "description": doc,
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "properties": {
                "x-version": {"type": "integer", "const": model.version},
                "x-request-id": {"type": "string", "description": "the originating request"},
            },
        },
        "payload": payload,
        "bindings": {"amqp": {"messageType": model.name, "bindingVersion": AMQP_BINDING_VERSION}},
    }


def _event_channel(model: type[Event], key: str) -> dict[str, Any]:
    return {
        "description": f"`{model.name}` events on `{EVENTS_EXCHANGE}` (routing key"
        f" `{model.name}`). Bind your own durable queue to this key.",
        "subscribe": {
            "operationId": f"receive_{model.name.replace('.', '_')}",
            "summary": f"Receive {model.name}",
            "message": {"$ref": f"#/components/messages/{key}"},
            "bindings": {"amqp": {"ack": True, "deliveryMode": 2,
                                  "bindingVersion": AMQP_BINDING_VERSION}},
        },
        "bindings": {"amqp": {
            "is": "routingKey",
            "exchange": {"name": EVENTS_EXCHANGE, "type": "topic", "durable": True,
                         "autoDelete": False, "vhost": "/"},
            "bindingVersion": AMQP_BINDING_VERSION,
        }},
    }


def _stream_channel(keys: list[str]) -> dict[str, Any]:
    return {
        "description": f"The stream `{EVENTS_LOG_STREAM}`, bound to `{EVENTS_EXCHANGE}` with"
        " `#`: every event, kept by size and age. Consume it with a prefetch, manual acks and"
        " the consumer argument `x-stream-offset` (`first`, an offset, or a timestamp);"
        " each delivery carries its offset in the header `x-stream-offset`.",
        "subscribe": {
            "operationId": "replay_events",
            "summary": "Replay every event from an offset or a time",
            "message": {"oneOf": [{"$ref": f"#/components/messages/{key}"} for key in keys]},
            "bindings": {"amqp": {"ack": True, "bindingVersion": AMQP_BINDING_VERSION}},
        },
        "bindings": {"amqp": {
            "is": "queue",
            "queue": {"name": EVENTS_LOG_STREAM, "durable": True, "exclusive": False,
                      "autoDelete": False, "vhost": "/"},
            "bindingVersion": AMQP_BINDING_VERSION,
        }},
    }


def build_document(version: str = "1.0.0") -> dict[str, Any]:
    models = event_models()
    payloads, schemas = _payload_schemas(models)
    messages = {model.__name__: _message(model, payloads[model]) for model in models}
    channels = {model.name: _event_channel(model, model.__name__) for model in models}
    channels[EVENTS_LOG_STREAM] = _stream_channel([model.__name__ for model in models])
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:itemexchange:events",
        "info": {"title": "ItemExchange events", "version": version, "description": DESCRIPTION},
        "servers": {
            "rabbitmq": {
                "url": "localhost:5672",
                "protocol": "amqp",
                "protocolVersion": "0.9.1",
                "description": "RabbitMQ; the vhost and credentials come from your deployment",
            }
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages, "schemas": schemas},
    }


@cache
def document_bytes() -> bytes:
    """The document as published: indented, key order as built, a final newline."""
    return orjson.dumps(build_document(), option=orjson.OPT_INDENT_2) + b"\n"


async def asyncapi_json(_: Request) -> Response:
    return Response(document_bytes(), media_type="application/json")
