"""The message contracts: one model per name, strict fields, text PostgreSQL can store,
and events that carry their own type and version."""

from __future__ import annotations

import uuid
from typing import ClassVar

import pytest
from pydantic import ValidationError

from broker.topology import TOPOLOGY
from contracts import Command, ErrorCode, ErrorReply, Query, Refusal, Reply, message_type
from contracts.accounts import Deposit, Login, Register
from contracts.base import registered
from contracts.events import FundsDeposited


def test_every_routed_message_is_registered_under_its_name() -> None:
    for service in TOPOLOGY.services:
        for message in service.messages:
            assert message.name, message
            assert message_type(message.name) is message


def test_every_command_and_query_names_a_registered_reply() -> None:
    for service in TOPOLOGY.services:
        for message in service.messages:
            assert issubclass(message, Command | Query)
            assert message.reply is not None, message.name
            assert message_type(message.reply.name) is message.reply


def test_names_are_unique_across_the_registry() -> None:
    names = registered()
    assert len(set(names)) == len(names)
    assert all(model.name == name for name, model in names.items())


def test_a_second_model_with_a_taken_name_is_refused() -> None:
    with pytest.raises(TypeError, match="used twice"):

        class ImpostorDeposit(Command):  # noqa: F841 - defining it is the test
            """Claims a name that belongs to another model."""

            name: ClassVar[str] = Deposit.name

    assert message_type(Deposit.name) is Deposit


def test_unknown_names_are_not_found() -> None:
    assert message_type("accounts.no_such_thing") is None
    assert message_type("") is None


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        Deposit.model_validate(
            {"user_id": 1, "deposit_id": str(uuid.uuid4()), "amount_cents": 1, "admin": True}
        )


def test_messages_are_frozen() -> None:
    deposit = Deposit(user_id=1, deposit_id=uuid.uuid4(), amount_cents=1)
    with pytest.raises(ValidationError):
        deposit.amount_cents = 100  # type: ignore[misc]


@pytest.mark.parametrize("amount", [0, -1])
def test_a_deposit_moves_a_positive_amount(amount: int) -> None:
    with pytest.raises(ValidationError):
        Deposit(user_id=1, deposit_id=uuid.uuid4(), amount_cents=amount)


@pytest.mark.parametrize("bad", ["nul\x00byte", "lone\ud800surrogate", "\udfff"])
def test_text_fields_refuse_what_postgresql_cannot_store(bad: str) -> None:
    with pytest.raises(ValidationError):
        Login(login="ada", password=bad)
    with pytest.raises(ValidationError):
        Register(register_id=uuid.uuid4(), username="ada", email="a@example.com", password=bad)


def test_text_fields_take_any_other_unicode() -> None:
    assert Login(login="ada", password="pässwörd 🔑 日本").password == "pässwörd 🔑 日本"


def test_event_body_carries_type_and_version_and_round_trips() -> None:
    event = FundsDeposited(
        user_id=7, deposit_id=uuid.uuid4(), amount_cents=1000, balance_cents=2250
    )
    body = event.body()
    assert body["type"] == "funds.deposited"
    assert body["version"] == 1
    assert body["event_id"] == str(event.event_id)
    assert FundsDeposited.from_body(body) == event


def test_events_get_distinct_ids() -> None:
    first = FundsDeposited(user_id=7, deposit_id=uuid.uuid4(), amount_cents=1, balance_cents=1)
    second = FundsDeposited(user_id=7, deposit_id=uuid.uuid4(), amount_cents=1, balance_cents=2)
    assert first.event_id != second.event_id


def test_a_refusal_becomes_an_error_reply() -> None:
    refusal = Refusal(ErrorCode.INSUFFICIENT_FUNDS, "not enough", {"balance": "0.00"})
    reply = refusal.reply()
    assert isinstance(reply, ErrorReply)
    assert isinstance(reply, Reply)
    assert (reply.code, reply.message, reply.details) == (
        ErrorCode.INSUFFICIENT_FUNDS, "not enough", {"balance": "0.00"}
    )
    assert ErrorReply.model_validate_json(reply.model_dump_json()) == reply
