"""The AsyncAPI document: every Event of `contracts` is in it with its routing key on
`itemx.events` and in the stream channel, it validates against the official AsyncAPI
2.6.0 JSON Schema, and the committed `docs/asyncapi.json` is up to date.

`tests/support/asyncapi-2.6.0.schema.json` is the official schema as published in the
npm package @asyncapi/specs 6.11.1 (`schemas/2.6.0-without-$id.json`, Apache-2.0).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from api_gateway.asyncapi import build_document, document_bytes, event_models
from broker.topology import EVENTS_EXCHANGE, EVENTS_LOG_STREAM
from contracts import events
from contracts.base import Event
from ops.event_commands import ASYNCAPI_PATH

SCHEMA = Path(__file__).resolve().parents[1] / "support" / "asyncapi-2.6.0.schema.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return json.loads(document_bytes())


def all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *all_subclasses(sub)}
    return found


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_every_event_has_a_channel_and_a_message(document: dict[str, Any]) -> None:
    models = event_models()
    assert {m for m in all_subclasses(Event) if m.name} == set(models)
    assert {events.PurchaseCompleted, events.PurchaseFailed, events.UserRegistered} <= set(models)
    for model in models:
        channel = document["channels"][model.name]
        binding = channel["bindings"]["amqp"]
        assert binding["is"] == "routingKey"
        assert binding["exchange"] == {"name": EVENTS_EXCHANGE, "type": "topic",
                                       "durable": True, "autoDelete": False, "vhost": "/"}
        message = resolve(document, channel["subscribe"]["message"]["$ref"])
        assert message["name"] == model.name
        assert message["bindings"]["amqp"]["messageType"] == model.name


def test_the_stream_channel_carries_every_event(document: dict[str, Any]) -> None:
    stream = document["channels"][EVENTS_LOG_STREAM]
    assert stream["bindings"]["amqp"]["queue"]["name"] == EVENTS_LOG_STREAM
    carried = stream["subscribe"]["message"]["oneOf"]
    names = {resolve(document, one["$ref"])["name"] for one in carried}
    assert names == {model.name for model in event_models()}


def test_payloads_are_the_published_bodies(document: dict[str, Any]) -> None:
    """The schema describes `Event.body()`: type and version first, then every field."""
    event = events.PurchaseCompleted(
        purchase_id="6f1d7c1e-0a01-4a43-9a43-5b0f4f3e8f7c", transaction_id="3-91",
        item_id="3-41", seller_id=3, buyer_id=7, amount_cents=1250,
    )
    channel = document["channels"][event.name]
    message = resolve(document, channel["subscribe"]["message"]["$ref"])
    payload = resolve(document, message["payload"]["$ref"])
    body = json.loads(json.dumps(event.body()))
    assert list(payload["properties"])[:2] == ["type", "version"]
    assert payload["properties"]["type"]["const"] == "purchase.completed"
    assert set(payload["required"]) == set(body) and payload["additionalProperties"] is False
    jsonschema.validate(body, _standalone(document, payload))


def _standalone(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A payload schema whose `#/components/...` references resolve on their own."""
    return {**schema, "components": document["components"]}


def test_the_document_is_valid_asyncapi(document: dict[str, Any]) -> None:
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert not [error.message for error in validator.iter_errors(document)]
    broken = copy.deepcopy(document)
    del broken["channels"]["purchase.completed"]["subscribe"]["message"]
    broken["info"].pop("version")
    assert not validator.is_valid(broken), "the schema must catch a broken document"


def test_the_committed_document_is_up_to_date() -> None:
    assert ASYNCAPI_PATH.read_bytes() == document_bytes(), "run `itemx asyncapi`"
    assert build_document() == json.loads(ASYNCAPI_PATH.read_text())
