"""Money is integer cents. Clients see `"12.50"`; nothing in between is ever a float.

>>> parse_money("12.5"), parse_money(12.5), format_money(1250)
(1250, 1250, '12.50')
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

MAX_AMOUNT_CENTS = 100_000_000  # 1,000,000.00: the largest deposit or price

_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
"""ASCII digits only: Decimal() also reads Arabic-Indic or full-width digits."""


class InvalidAmount(ValueError):
    """An amount that is not a positive number of cents within the limit."""


def parse_money(value: Any, *, maximum: int = MAX_AMOUNT_CENTS) -> int:
    """Parse a client amount (JSON number or string) into positive integer cents.

    Refuses booleans, NaN, infinities, exponents, more than two decimals, zero,
    negatives and anything over `maximum`.
    """
    if isinstance(value, bool) or value is None:
        raise InvalidAmount("amount must be a number or a decimal string")
    if isinstance(value, int) and value.bit_length() > 64:  # str() refuses > 4300 digits
        raise InvalidAmount("amount is out of range")
    if isinstance(value, int | Decimal):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InvalidAmount("amount must be a number or a decimal string")
    if len(text) > 32 or not _PLAIN_DECIMAL.fullmatch(text):
        raise InvalidAmount("amount must be a plain decimal such as 12.50")
    try:
        amount = Decimal(text)
    except InvalidOperation as exc:
        raise InvalidAmount("amount must be a plain decimal such as 12.50") from exc
    if not amount.is_finite():
        raise InvalidAmount("amount must be finite")
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2:
        raise InvalidAmount("amount has more than two decimals")
    cents = int(amount * 100)
    if cents <= 0:
        raise InvalidAmount("amount must be greater than zero")
    if cents > maximum:
        raise InvalidAmount(f"amount must be at most {format_money(maximum)}")
    return cents


def format_money(cents: int) -> str:
    """Integer cents as a string with two decimals: 1250 -> "12.50"."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"


MoneyInput = Annotated[int, BeforeValidator(parse_money)]
"""An API input field: a positive amount, parsed strictly into cents."""

Money = Annotated[int, PlainSerializer(format_money, return_type=str, when_used="json")]
"""An API output field: cents in Python, `"12.50"` in JSON."""
