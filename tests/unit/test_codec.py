"""Envelope and codec: a contract survives the trip through AMQP frames, with its ids,
request id and deadline (integer milliseconds: a float header would be rounded)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import aio_pika
import pytest
from aio_pika.abc import DeliveryMode
from aiormq.abc import DeliveredMessage
from pamqp import commands, decode, encode, frame
from pamqp.header import ContentHeader

from broker.codec import UndecodableMessage, decode_body, envelope_for, read_envelope, to_amqp
from broker.codec import encode as encode_message
from contracts.accounts import Deposit, GetUser
from contracts.envelope import Envelope
from contracts.events import FundsDeposited


def over_the_wire(message: aio_pika.Message) -> aio_pika.IncomingMessage:
    """What a consumer receives for `message`: its properties marshalled into a real
    content-header frame and read back, as the broker would deliver them."""
    header = ContentHeader(0, len(message.body), message.properties)
    _, _, received = frame.unmarshal(frame.marshal(header, 1))
    assert isinstance(received, ContentHeader)
    delivered = DeliveredMessage(
        delivery=commands.Basic.Deliver(consumer_tag="t", delivery_tag=1, routing_key="k"),
        header=received,
        body=message.body,
        channel=None,  # type: ignore[arg-type]
    )
    return aio_pika.IncomingMessage(delivered, no_ack=True)


def test_a_command_and_its_envelope_round_trip() -> None:
    deposit = Deposit(user_id=7, deposit_id=uuid.uuid4(), amount_cents=1000)
    deadline = time.time() + 5
    envelope = envelope_for(
        deposit, request_id="req-1", correlation_id="corr-1", deadline=deadline
    )
    message = encode_message(deposit, envelope, reply_to="amq.rabbitmq.reply-to")
    incoming = over_the_wire(message)

    read = read_envelope(incoming)
    assert read.message_id == envelope.message_id
    assert read.type == "accounts.deposit"
    assert read.version == 1
    assert read.correlation_id == "corr-1"
    assert read.request_id == "req-1"
    assert read.reply_to == "amq.rabbitmq.reply-to"
    assert read.deadline == pytest.approx(deadline, abs=0.001)
    assert abs((read.occurred_at - envelope.occurred_at).total_seconds()) < 1
    assert incoming.delivery_mode == DeliveryMode.PERSISTENT
    assert decode_body(read.type, incoming.body) == deposit


def test_the_deadline_travels_as_integer_milliseconds() -> None:
    deadline = time.time() + 3
    envelope = Envelope(type=GetUser.name, deadline=deadline)
    message = encode_message(GetUser(user_id=1), envelope, persistent=False, expiration_ms=3000)
    assert message.headers["x-deadline"] == int(deadline * 1000)
    assert isinstance(message.headers["x-deadline"], int)
    assert message.delivery_mode == DeliveryMode.NOT_PERSISTENT
    assert message.expiration == 3.0
    # what a float header would have become: AMQP tables carry it as a 32-bit float, whose
    # steps are 128 s apart at today's Unix times (this one is 37 s from the nearest)
    floating = 1_800_000_037.25
    _, table = decode.field_table(encode.field_table({"x-deadline": floating}))
    assert abs(table["x-deadline"] - floating) > 30
    read = read_envelope(over_the_wire(message))
    assert read.deadline == pytest.approx(deadline, abs=0.001)


def test_expiry_follows_the_deadline() -> None:
    assert Envelope(type="t", deadline=time.time() - 0.01).expired()
    assert not Envelope(type="t", deadline=time.time() + 60).expired()
    assert not Envelope(type="t").expired()
    assert Envelope(type="t", deadline=100.0).expired(now=100.5)
    assert not Envelope(type="t", deadline=100.0).expired(now=99.5)


def test_an_event_goes_out_with_type_and_version_in_its_body() -> None:
    event = FundsDeposited(user_id=7, deposit_id=uuid.uuid4(), amount_cents=5, balance_cents=5)
    incoming = over_the_wire(encode_message(event, envelope_for(event)))
    assert b'"type":"funds.deposited"' in incoming.body
    assert decode_body(incoming.type, incoming.body) == event


def test_missing_or_odd_properties_get_safe_defaults() -> None:
    message = to_amqp(b"{}", Envelope(type="accounts.get_user"))
    message.message_id = "not-a-uuid"
    message.headers = {"x-version": "not-a-number", "x-deadline": "soon"}
    message.timestamp = None
    read = read_envelope(over_the_wire(message))
    assert isinstance(read.message_id, uuid.UUID)
    assert read.version == 1
    assert read.deadline is None
    assert read.occurred_at.tzinfo is not None
    assert read.occurred_at <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("header", "request_id"),
    [
        ("abc", "abc"), (bytearray(b"abc"), "abc"), (12345, None), ({"nested": 1}, None),
        (None, None),
    ],
)
def test_a_request_id_header_of_any_type_never_breaks_decoding(
    header: object, request_id: str | None
) -> None:
    message = to_amqp(b"{}", Envelope(type="accounts.get_user"))
    message.headers = {"x-request-id": header} if header is not None else {}
    assert read_envelope(over_the_wire(message)).request_id == request_id


@pytest.mark.parametrize(
    ("type_name", "body"),
    [
        ("accounts.no_such_thing", b"{}"),
        (None, b"{}"),
        ("accounts.deposit", b"not json"),
        ("accounts.deposit", b'{"user_id": 1}'),
        ("accounts.deposit", b'{"user_id": 1, "deposit_id": "x", "amount_cents": 1}'),
        ("accounts.get_user", b'{"user_id": 1, "extra": 1}'),
        ("funds.deposited", b"[1, 2]"),
        ("funds.deposited", b'{"type": "funds.deposited"}'),
        ("accounts.login", b'{"login": "ada", "password": "a\\u0000b"}'),
        ("accounts.deposit", b"\xff\xfe"),
    ],
)
def test_undecodable_bodies_raise_one_exception(type_name: str | None, body: bytes) -> None:
    with pytest.raises(UndecodableMessage):
        decode_body(type_name, body)
