"""Money: integer paisa inside, rupees only at the edges (display, export, input)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

PAISA_PER_RUPEE = 100
# Far above any single Khalti payment; anything bigger is a typo, not a payment.
MAX_PAISA = 10_000_000 * PAISA_PER_RUPEE

_PREFIX = re.compile(r"^(?:rs\.?|npr|रु\.?|रू\.?)\s*", re.IGNORECASE)
_NUMBER = re.compile(r"^\d+(?:\.\d*)?$|^\.\d+$")


class AmountError(ValueError):
    """An amount a person typed that cannot be a payment amount."""


def parse_rupees(text: str) -> int:
    """Parse what a person types as rupees ("Rs 1,00,000.50") into exact paisa."""
    cleaned = _PREFIX.sub("", (text or "").strip()).replace(",", "").replace(" ", "")
    if not cleaned:
        raise AmountError("Enter an amount in rupees, for example 1,500 or 1500.50.")
    if cleaned.startswith("-"):
        raise AmountError("The amount must be more than zero.")
    if not _NUMBER.match(cleaned):
        raise AmountError(f"“{_shown(text)}” is not an amount. Use digits, for example 1,500.50.")
    try:
        rupees = Decimal(cleaned)
    except InvalidOperation as exc:  # pragma: no cover - the pattern above already rules this out
        raise AmountError(f"“{_shown(text)}” is not an amount.") from exc
    if rupees.as_tuple().exponent < -2:  # type: ignore[operator]
        raise AmountError("Rupee amounts have at most two decimals (paisa).")
    # Compared before multiplying: Decimal arithmetic rounds past 28 digits, so a huge
    # number would otherwise be reported as a different (rounded) amount.
    if rupees > MAX_PAISA // PAISA_PER_RUPEE:
        raise AmountError(
            f"That is larger than any single payment can be (at most {format_npr(MAX_PAISA)})."
        )
    paisa = int(rupees * PAISA_PER_RUPEE)
    if paisa <= 0:
        raise AmountError("The amount must be more than zero.")
    return paisa


def _shown(text: str, limit: int = 40) -> str:
    """What the person typed, cut short so a pasted page does not become the message."""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rupees(paisa: int) -> Decimal:
    """Exact rupees for a paisa amount, always with two decimals."""
    # Built from the digits, not by division: division rounds to the context's 28 digits.
    sign, digits, _ = Decimal(int(paisa)).as_tuple()
    return Decimal((sign, digits, -2))


def rupees_text(paisa: int) -> str:
    """Plain two-decimal rupees for files: 123456.78, -5.00."""
    return f"{rupees(paisa):.2f}"


def group_nepali(whole: int) -> str:
    """Digits grouped the Nepali way: 1,23,45,678 (last three, then pairs)."""
    digits = str(whole)
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    pairs = []
    while len(head) > 2:
        pairs.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([head, *pairs, tail])


def format_npr(paisa: int, *, symbol: bool = True, decimals: bool = True) -> str:
    """Display form: Rs 1,23,456.78 (negative as -Rs 5.00)."""
    sign = "-" if paisa < 0 else ""
    whole, frac = divmod(abs(int(paisa)), PAISA_PER_RUPEE)
    text = group_nepali(whole) + (f".{frac:02d}" if decimals else "")
    return f"{sign}{'Rs ' if symbol else ''}{text}"
