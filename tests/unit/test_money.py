"""Money is integer cents: what a client may write as an amount, and how it is shown."""

from __future__ import annotations

from decimal import Decimal

import pytest

from contracts.money import MAX_AMOUNT_CENTS, InvalidAmount, format_money, parse_money


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        ("12.50", 1250),
        ("12.5", 1250),
        ("12", 1200),
        (12, 1200),
        (12.5, 1250),
        (Decimal("12.50"), 1250),
        ("0.01", 1),
        (0.01, 1),
        ("0012.50", 1250),
        ("1000000.00", MAX_AMOUNT_CENTS),
        (1000000, MAX_AMOUNT_CENTS),
        (Decimal("100.0"), 10000),
        ("19.99", 1999),
        (19.99, 1999),
        (0.29, 29),
    ],
)
def test_valid_amounts_parse_to_exact_cents(value: object, cents: int) -> None:
    assert parse_money(value) == cents


@pytest.mark.parametrize(
    "value",
    [
        "-1.00", -1, Decimal("-0.01"), "0", "0.00", 0, "-0", 0.0,
        "12.345", Decimal("12.345"), "0.001", 0.001, "100.000",
        "NaN", "nan", "sNaN", Decimal("NaN"), float("nan"),
        "Infinity", "-Infinity", "inf", float("inf"), Decimal("Infinity"),
        "1e3", "1E3", Decimal("1E+3"), 1e3 * 1e20, "1e400", Decimal("1E+400"),
        str(2**63), 2**63, 2**64, "1000000.01", 100000001 / 100,
        True, False, None, [], {}, b"12.50",
        "", " ", "abc", "12,50", "1_000", "+12.50", "0x10", "12.50.1",
        "\u0661\u0662",  # Arabic-Indic digits: Decimal() reads them, a client must not
        "\uff11\uff12",  # full-width digits
        "12.", ".5", "1" * 40,
    ],
)
def test_invalid_amounts_are_refused(value: object) -> None:
    with pytest.raises(InvalidAmount):
        parse_money(value)


@pytest.mark.parametrize("sign", [1, -1])
def test_integers_too_long_to_print_are_refused(sign: int) -> None:
    # str() of an int over 4300 digits raises ValueError, not InvalidAmount
    with pytest.raises(InvalidAmount):
        parse_money(sign * 10**5000)


def test_maximum_is_a_parameter() -> None:
    assert parse_money("5.00", maximum=500) == 500
    with pytest.raises(InvalidAmount, match="at most 5.00"):
        parse_money("5.01", maximum=500)


def test_float_artifacts_never_slip_through() -> None:
    # 0.1 + 0.2 is 0.30000000000000004: more than two decimals, not 30 cents
    with pytest.raises(InvalidAmount):
        parse_money(0.1 + 0.2)


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0.00"), (1, "0.01"), (10, "0.10"), (1250, "12.50"), (100_000_000, "1000000.00"),
     (-5, "-0.05"), (-1250, "-12.50"), (2**63 - 1, "92233720368547758.07")],
)
def test_format_money(cents: int, text: str) -> None:
    assert format_money(cents) == text


@pytest.mark.parametrize("cents", [1, 99, 100, 1250, 123_456, MAX_AMOUNT_CENTS])
def test_format_then_parse_round_trips(cents: int) -> None:
    assert parse_money(format_money(cents)) == cents
