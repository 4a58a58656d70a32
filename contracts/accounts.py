"""Commands, queries and replies of the accounts service (queue `accounts.commands`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field, StringConstraints

from contracts.base import Command, Query, Reply, Text

Username = Annotated[
    str, StringConstraints(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
]
Email = Annotated[
    str,
    StringConstraints(
        min_length=3, max_length=254, pattern=r"^[^@\s\x00]{1,64}@[^@\s\x00]+\.[^@\s\x00]+$"
    ),
]


class User(Reply):
    """A user as clients see it. Example:
    {"id": 7, "username": "ada", "email": "ada@example.com", "balance_cents": 1250,
     "created_at": "2026-11-26T10:00:00Z"}"""

    name: ClassVar[str] = "accounts.user"

    id: int
    username: str
    email: str
    balance_cents: int
    created_at: datetime


class Register(Command):
    """Create a user. Example: {"register_id": "…", "username": "ada",
    "email": "ada@example.com", "password": "correct horse"}"""

    name: ClassVar[str] = "accounts.register"
    reply: ClassVar[type[Reply]] = User

    register_id: UUID
    username: Username
    email: Email
    password: Text


class Login(Command):
    """Check a password. A command, not a query: failures are counted for throttling.
    Example: {"login": "ada", "password": "correct horse", "client_address": "10.0.0.7"}"""

    name: ClassVar[str] = "accounts.login"
    reply: ClassVar[type[Reply]] = User

    login: Annotated[Text, Field(min_length=1, max_length=254)]
    password: Text
    client_address: str = ""


class GetUser(Query):
    """Read one user. Example: {"user_id": 7}"""

    name: ClassVar[str] = "accounts.get_user"
    reply: ClassVar[type[Reply]] = User

    user_id: int


class DepositResult(Reply):
    """Example: {"deposit_id": "…", "amount_cents": 1000, "balance_cents": 2250}"""

    name: ClassVar[str] = "accounts.deposit_result"

    deposit_id: UUID
    amount_cents: int
    balance_cents: int


class Deposit(Command):
    """Add money to a balance, once per `deposit_id`. Example:
    {"user_id": 7, "deposit_id": "…", "amount_cents": 1000}"""

    name: ClassVar[str] = "accounts.deposit"
    reply: ClassVar[type[Reply]] = DepositResult

    user_id: int
    deposit_id: UUID
    amount_cents: Annotated[int, Field(gt=0)]


# --- the money part of the purchase saga ------------------------------------------
# Each is keyed by the purchase id: the ledger row is unique per (user, kind, purchase),
# so a redelivered step moves no money twice.


class FundsMoved(Reply):
    """Example: {"purchase_id": "…", "user_id": 7, "amount_cents": 1250, "balance_cents": 0}"""

    name: ClassVar[str] = "accounts.funds_moved"

    purchase_id: UUID
    user_id: int
    amount_cents: int
    balance_cents: int


class DebitFunds(Command):
    """Take the price from the buyer. Refusal: insufficient_funds (nothing moved).
    Example: {"purchase_id": "…", "user_id": 7, "amount_cents": 1250}"""

    name: ClassVar[str] = "accounts.debit"
    reply: ClassVar[type[Reply]] = FundsMoved

    purchase_id: UUID
    user_id: int
    amount_cents: Annotated[int, Field(gt=0)]


class CreditFunds(Command):
    """Pay the seller. Example: {"purchase_id": "…", "user_id": 3, "amount_cents": 1250}"""

    name: ClassVar[str] = "accounts.credit"
    reply: ClassVar[type[Reply]] = FundsMoved

    purchase_id: UUID
    user_id: int
    amount_cents: Annotated[int, Field(gt=0)]


class RefundFunds(Command):
    """Give a debited buyer the money back (compensation); a no-op answer when the
    purchase never debited them.
    Example: {"purchase_id": "…", "user_id": 7, "amount_cents": 1250}"""

    name: ClassVar[str] = "accounts.refund"
    reply: ClassVar[type[Reply]] = FundsMoved

    purchase_id: UUID
    user_id: int
    amount_cents: Annotated[int, Field(gt=0)]
