"""The accounts endpoints' bodies (`api.md`, Accounts)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator, model_validator

from api_gateway.schemas.common import Id, Input, Output, Timestamp
from contracts.accounts import Email, Username
from contracts.base import Text
from contracts.money import Money, MoneyInput

Password = Annotated[Text, Field(min_length=1, description="8 to 72 bytes in UTF-8")]


def _check_password(password: str) -> str:
    size = len(password.encode("utf-8"))
    if size < 8 or size > 72:
        raise ValueError("password must be 8 to 72 bytes in UTF-8 (bcrypt's limit)")
    return password


class RegisterBody(Input):
    username: Username
    email: Email
    password: Password

    @field_validator("password")
    @classmethod
    def _password_bytes(cls, password: str) -> str:
        """A field validator, so that the error names the `password` field."""
        return _check_password(password)


class LoginBody(Input):
    """Log in with the username or the email (exactly one of them)."""

    username: Annotated[Text, Field(min_length=1, max_length=254)] | None = None
    email: Annotated[Text, Field(min_length=1, max_length=254)] | None = None
    password: Annotated[Text, Field(min_length=1, max_length=1024)]

    @model_validator(mode="after")
    def _one_login(self) -> LoginBody:
        if (self.username is None) == (self.email is None):
            raise ValueError("give either username or email")
        return self

    @property
    def login(self) -> str:
        return self.username if self.username is not None else self.email or ""


class DepositBody(Input):
    money_fields: ClassVar[frozenset[str]] = frozenset({"amount"})

    amount: MoneyInput = Field(
        description='A positive amount, at most 1000000.00: a number or a string ("12.50")',
        json_schema_extra={"type": ["string", "number"], "examples": ["12.50"]},
    )


class UserOut(Output):
    id: Id
    username: str
    email: str
    balance: Money = Field(json_schema_extra={"type": "string", "examples": ["12.50"]})
    created_at: Timestamp


class AuthOut(Output):
    user: UserOut
    token: str


class DepositOut(Output):
    balance: Money = Field(json_schema_extra={"type": "string", "examples": ["112.50"]})
    deposit_id: Id
