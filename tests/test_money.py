"""Money: what people type becomes exact paisa, and paisa is shown the Nepali way."""

from decimal import Decimal

import pytest

from dashboard.money import (
    MAX_PAISA,
    AmountError,
    format_npr,
    group_nepali,
    parse_rupees,
    rupees,
    rupees_text,
)


@pytest.mark.parametrize(
    ("text", "paisa"),
    [
        ("Rs 1,500.50", 150050),
        ("1,00,000", 10000000),
        ("0.01", 1),
        ("1500", 150000),
        ("1500.5", 150050),
        ("  1500.50  ", 150050),
        ("Rs.1,500", 150000),
        ("rs 10", 1000),
        ("NPR 250", 25000),
        ("रु 500", 50000),
        ("रू. 75.25", 7525),
        ("1,500", 150000),
        ("1 500", 150000),
        ("5.", 500),
        (".5", 50),
        ("0.10", 10),
        ("1,00,00,000", MAX_PAISA),
    ],
)
def test_parse_rupees_accepts_what_people_type(text: str, paisa: int) -> None:
    assert parse_rupees(text) == paisa


def test_parse_rupees_returns_an_exact_int() -> None:
    # 0.29 * 100 is 28.999999999999996 in floating point; paisa must not drift.
    paisa = parse_rupees("0.29")
    assert paisa == 29
    assert type(paisa) is int
    assert parse_rupees("1234567.89") == 123456789


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "Enter an amount"),
        ("   ", "Enter an amount"),
        ("Rs ", "Enter an amount"),
        ("-5", "more than zero"),
        ("Rs -5", "more than zero"),
        ("0", "more than zero"),
        ("0.00", "more than zero"),
        ("abc", "is not an amount"),
        ("1,00,000.505", "at most two decimals"),
        ("0.001", "at most two decimals"),
        ("1e5", "is not an amount"),
        ("1E5", "is not an amount"),
        ("NaN", "is not an amount"),
        ("nan", "is not an amount"),
        ("Infinity", "is not an amount"),
        ("-Infinity", "more than zero"),
        ("inf", "is not an amount"),
        ("1_000", "is not an amount"),
        ("+5", "is not an amount"),
        ("1.2.3", "is not an amount"),
        (".", "is not an amount"),
        ("0x10", "is not an amount"),
        ("10000000.01", "larger than any single payment"),
        ("99999999999999999999999999999999999999", "larger than any single payment"),
    ],
)
def test_parse_rupees_refuses_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(AmountError, match=message):
        parse_rupees(text)


def test_parse_rupees_refuses_none_like_empty_text() -> None:
    with pytest.raises(AmountError, match="Enter an amount"):
        parse_rupees(None)  # type: ignore[arg-type]


def test_a_huge_number_is_refused_without_echoing_it() -> None:
    # Python refuses int() of strings over 4300 digits; the person must still get a sentence.
    with pytest.raises(AmountError) as caught:
        parse_rupees("9" * 5000)
    assert "larger than any single payment" in str(caught.value)
    assert len(str(caught.value)) < 200


def test_a_huge_number_is_not_reported_as_a_rounded_amount() -> None:
    with pytest.raises(AmountError) as caught:
        parse_rupees("9" * 40)
    assert "10,00,00,00" not in str(caught.value)


def test_a_pasted_paragraph_is_cut_short_in_the_message() -> None:
    with pytest.raises(AmountError) as caught:
        parse_rupees("please pay " * 100)
    assert "is not an amount" in str(caught.value)
    assert len(str(caught.value)) < 150


def test_amount_error_is_a_value_error() -> None:
    # Pages catch ValueError around form input; AmountError must be caught there too.
    assert issubclass(AmountError, ValueError)


@pytest.mark.parametrize(
    ("paisa", "text"),
    [
        (0, "Rs 0.00"),
        (1, "Rs 0.01"),
        (99, "Rs 0.99"),
        (100, "Rs 1.00"),
        (100000, "Rs 1,000.00"),
        (12345678, "Rs 1,23,456.78"),
        (10000000, "Rs 1,00,000.00"),
        (12345678901, "Rs 12,34,56,789.01"),
        (99999, "Rs 999.99"),
        (-500, "-Rs 5.00"),
        (-12345678, "-Rs 1,23,456.78"),
        (-1, "-Rs 0.01"),
    ],
)
def test_format_npr_groups_the_nepali_way(paisa: int, text: str) -> None:
    assert format_npr(paisa) == text


def test_format_npr_options() -> None:
    assert format_npr(12345678, symbol=False) == "1,23,456.78"
    assert format_npr(12345678, decimals=False) == "Rs 1,23,456"
    assert format_npr(-12345678, symbol=False, decimals=False) == "-1,23,456"


@pytest.mark.parametrize(
    ("whole", "text"),
    [
        (0, "0"),
        (999, "999"),
        (1000, "1,000"),
        (10000, "10,000"),
        (100000, "1,00,000"),
        (1000000, "10,00,000"),
        (12345678, "1,23,45,678"),
        (123456789012, "1,23,45,67,89,012"),
    ],
)
def test_group_nepali(whole: int, text: str) -> None:
    assert group_nepali(whole) == text


@pytest.mark.parametrize(
    ("paisa", "value"),
    [
        (0, Decimal("0.00")),
        (1, Decimal("0.01")),
        (29, Decimal("0.29")),
        (150050, Decimal("1500.50")),
        (-5, Decimal("-0.05")),
        (10**18 + 1, Decimal("10000000000000000.01")),
        # Past Decimal's default 28 digits: division would round or raise here.
        (10**30 + 1, Decimal("10000000000000000000000000000.01")),
    ],
)
def test_rupees_is_exact(paisa: int, value: Decimal) -> None:
    result = rupees(paisa)
    assert result == value
    assert result.as_tuple().exponent == -2


def test_rupees_round_trips_through_parse() -> None:
    for paisa in (1, 99, 100, 150050, 123456789, MAX_PAISA):
        assert parse_rupees(str(rupees(paisa))) == paisa


@pytest.mark.parametrize(
    ("paisa", "text"),
    [
        (0, "0.00"),
        (5, "0.05"),
        (-500, "-5.00"),
        (12345678, "123456.78"),
        (10**20, "1" + "0" * 18 + ".00"),
    ],
)
def test_rupees_text_for_files(paisa: int, text: str) -> None:
    assert rupees_text(paisa) == text
