"""What staff type is checked before anything is sent to Khalti."""

from __future__ import annotations

import pytest

from dashboard.verify import AmountError, InputError, parse_amount, parse_pidx, parse_token


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("8xmeJnNXfoVjCvGcZiiGe7", "8xmeJnNXfoVjCvGcZiiGe7"),
        ("  8xmeJnNXfoVjCvGcZiiGe7\t\n", "8xmeJnNXfoVjCvGcZiiGe7"),
        ("A" * 10, "A" * 10),
        ("9" * 64, "9" * 64),
    ],
)
def test_token_is_trimmed_and_kept(typed: str, expected: str) -> None:
    assert parse_token(typed) == expected
    assert parse_pidx(typed) == expected


@pytest.mark.parametrize("typed", ["", "   ", "\n", None])
def test_missing_token_asks_for_one(typed: str | None) -> None:
    with pytest.raises(InputError, match="Enter the payment token"):
        parse_token(typed)
    with pytest.raises(InputError, match="Enter the pidx"):
        parse_pidx(typed)


@pytest.mark.parametrize(
    "typed",
    [
        "short1234",  # 9 characters
        "A" * 65,
        "8xmeJnNX foVjCvGcZiiGe7",
        "8xmeJnNX-foVjCvGcZiiGe7",
        "../../api/v2/refund",
        "token=8xmeJnNXfoVjCvGcZiiGe7",
        "टोकन१२३४५६७८९०१२",
        "=HYPERLINK(1234567890)",
    ],
)
def test_wrong_shape_is_refused_with_a_sentence(typed: str) -> None:
    with pytest.raises(InputError, match="10 to 64 letters and digits") as caught:
        parse_token(typed)
    assert isinstance(caught.value, ValueError)
    with pytest.raises(InputError, match="not a Khalti pidx"):
        parse_pidx(typed)


def test_very_long_input_is_shortened_in_the_message() -> None:
    with pytest.raises(InputError) as caught:
        parse_token("x" * 5000)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("typed", "paisa"),
    [
        ("Rs 1,500.50", 150050),
        ("1500", 150000),
        ("1,00,000", 10000000),
        ("rs. 10", 1000),
        ("NPR 25.5", 2550),
        (" 0.01 ", 1),
        ("1500.", 150000),
    ],
)
def test_amount_in_rupees_becomes_exact_paisa(typed: str, paisa: int) -> None:
    assert parse_amount(typed) == paisa


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter an amount"),
        ("   ", "Enter an amount"),
        (None, "Enter an amount"),
        ("1,00,000.505", "at most two decimals"),
        ("-5", "more than zero"),
        ("0", "more than zero"),
        ("0.00", "more than zero"),
        ("abc", "not an amount"),
        ("15OO", "not an amount"),
        ("1e5", "not an amount"),
        ("99999999999", "larger than any single payment"),
        ("1" * 400, "larger than any single payment"),
    ],
)
def test_bad_amounts_are_refused_with_a_sentence(typed: str | None, message: str) -> None:
    with pytest.raises(AmountError, match=message):
        parse_amount(typed)
