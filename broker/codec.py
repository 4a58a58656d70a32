"""From a contract and its envelope to an AMQP message, and back.

The body is the contract's JSON; ids, type, version, request id and deadline travel as
AMQP properties and headers, readable by any AMQP client.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import aio_pika
import orjson
from aio_pika.abc import AbstractIncomingMessage, DeliveryMode
from pydantic import ValidationError

from contracts import Event, Message, message_type
from contracts.envelope import Envelope

CONTENT_TYPE = "application/json"


class UndecodableMessage(Exception):
    """A delivery whose type is unknown or whose body does not match its contract."""


def encode(
    message: Message,
    envelope: Envelope,
    *,
    persistent: bool = True,
    reply_to: str | None = None,
    expiration_ms: int | None = None,
) -> aio_pika.Message:
    """The AMQP message for a contract: its JSON body (an event's with type and version)."""
    body = orjson.dumps(message.body()) if isinstance(message, Event) else (
        message.model_dump_json().encode()
    )
    return to_amqp(
        body, envelope, persistent=persistent, reply_to=reply_to, expiration_ms=expiration_ms
    )


def to_amqp(
    body: bytes,
    envelope: Envelope,
    *,
    persistent: bool = True,
    reply_to: str | None = None,
    expiration_ms: int | None = None,
) -> aio_pika.Message:
    headers: dict[str, object] = {"x-version": envelope.version}
    if envelope.request_id:
        headers["x-request-id"] = envelope.request_id
    if envelope.deadline is not None:
        # integer milliseconds: AMQP tables carry Python floats as 32-bit floats, which
        # would round a Unix time by up to two minutes
        headers["x-deadline"] = int(envelope.deadline * 1000)
    return aio_pika.Message(
        body,
        content_type=CONTENT_TYPE,
        message_id=str(envelope.message_id),
        type=envelope.type,
        correlation_id=envelope.correlation_id,
        reply_to=reply_to,
        timestamp=envelope.occurred_at,
        headers=headers,
        delivery_mode=DeliveryMode.PERSISTENT if persistent else DeliveryMode.NOT_PERSISTENT,
        expiration=expiration_ms / 1000 if expiration_ms else None,
    )


def envelope_for(message: Message, *, request_id: str | None = None, **fields: object) -> Envelope:
    """A fresh envelope for `message` (a new message id unless one is given)."""
    return Envelope(type=message.name, version=message.version, request_id=request_id, **fields)


def read_envelope(incoming: AbstractIncomingMessage) -> Envelope:
    headers = incoming.headers or {}
    deadline = headers.get("x-deadline")
    version = headers.get("x-version", 1)
    request_id = headers.get("x-request-id")
    timestamp = incoming.timestamp
    try:
        message_id = UUID(str(incoming.message_id)) if incoming.message_id else uuid4()
    except ValueError:
        message_id = uuid4()
    return Envelope(
        message_id=message_id,
        type=incoming.type or "",
        version=int(version) if isinstance(version, int | str) and str(version).isdigit() else 1,
        correlation_id=incoming.correlation_id,
        request_id=_text_header(request_id),
        occurred_at=timestamp.replace(tzinfo=UTC) if timestamp else datetime.now(UTC),
        deadline=deadline / 1000 if isinstance(deadline, int) else None,
        reply_to=incoming.reply_to,
    )


def _text_header(value: object) -> str | None:
    """A header another client may have sent as bytes, a number or a table."""
    if isinstance(value, bytes | bytearray):  # an AMQP byte array arrives as bytearray
        return bytes(value).decode("utf-8", "replace")
    return value if isinstance(value, str) else None


def decode_body(type_name: str | None, body: bytes) -> Message:
    """The contract instance for a body, or UndecodableMessage."""
    model = message_type(type_name or "")
    if model is None:
        raise UndecodableMessage(f"unknown message type {type_name!r}")
    try:
        if issubclass(model, Event):
            document = orjson.loads(body)
            if not isinstance(document, dict):
                raise UndecodableMessage(f"{type_name}: an event body must be a JSON object")
            return model.from_body(document)
        return model.model_validate_json(body)
    except (ValidationError, ValueError) as exc:
        raise UndecodableMessage(f"{type_name}: {exc}") from exc
