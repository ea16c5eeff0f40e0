"""Values that cross the store's boundary: filters, records, counts and errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dashboard.nptime import format_npt

MODES = ("test", "live")

# What the verification pages record; "refund" is here so refunds can be audited too.
AUDIT_ACTIONS = (
    "status_check",
    "verify",
    "lookup",
    "bulk_status",
    "bulk_lookup",
    "refresh",
    "refund",
)
MONEY_OUTCOMES = ("sending", "succeeded", "failed", "unknown")
# Outcomes that block another attempt: it went through, or it may have.
BLOCKING_OUTCOMES = ("sending", "succeeded", "unknown")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    return mode


def _check_day(value: date | None, name: str) -> None:
    # A datetime is a date too, but which calendar day it means depends on its zone.
    if value is not None and (isinstance(value, datetime) or not isinstance(value, date)):
        raise TypeError(f"{name} must be a Nepal calendar date (datetime.date)")


def check_day_range(first_day: date, last_day: date) -> None:
    _check_day(first_day, "first_day")
    _check_day(last_day, "last_day")
    if first_day is None or last_day is None:
        raise ValueError("a date range needs both its first and last day")
    if last_day < first_day:
        raise ValueError("the date range ends before it starts")


@dataclass(frozen=True)
class TxFilter:
    """Which transactions a listing shows. Days are Nepal calendar days, both inclusive.

    Empty `states`/`types` mean all. `search` matches, case-insensitively and anywhere
    in the text, the transaction idx, customer name, customer mobile and ebanker.
    Hashable, so the UI can use it as a cache key.
    """

    first_day: date | None = None
    last_day: date | None = None
    states: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    min_paisa: int | None = None
    max_paisa: int | None = None
    search: str | None = None

    def __post_init__(self) -> None:
        _check_day(self.first_day, "first_day")
        _check_day(self.last_day, "last_day")
        if self.first_day and self.last_day and self.last_day < self.first_day:
            raise ValueError("the date range ends before it starts")
        for name in ("states", "types"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            object.__setattr__(self, name, tuple(value))
        for name in ("min_paisa", "max_paisa"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise TypeError(f"{name} must be whole paisa (int)")
        if (
            self.min_paisa is not None
            and self.max_paisa is not None
            and self.max_paisa < self.min_paisa
        ):
            raise ValueError("the largest amount is below the smallest")
        search = (self.search or "").strip()
        object.__setattr__(self, "search", search or None)


@dataclass(frozen=True)
class UpsertCounts:
    """What one upsert did. `changed` = state, refunded, amount or fee differed."""

    inserted: int
    changed: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.inserted + self.changed + self.unchanged


@dataclass
class AuditRecord:
    """One verification-page action and Khalti's answer to it."""

    mode: str
    action: str
    reference: str
    amount_paisa: int | None
    verdict: str
    khalti_state: str | None
    raw_response: dict[str, Any] | list[Any] | str | None
    operator: str
    at: datetime
    note: str | None = None
    id: int | None = None


class StoreUnavailableError(Exception):
    """The database could not be opened: bad URL, server down, or no permission."""


class DuplicateActionError(Exception):
    """A money-moving call for this reference was already sent, or may have been."""

    def __init__(self, existing: dict[str, Any]) -> None:
        self.existing = existing
        outcome = existing.get("outcome")
        what = {
            "sending": "is being sent right now",
            "succeeded": "already went through",
            "unknown": "was sent but its result is unknown; check it with Khalti first",
        }.get(str(outcome), f"is recorded as {outcome}")
        started = existing.get("started_at")
        when = f" at {format_npt(started)}" if isinstance(started, datetime) else ""
        super().__init__(
            f"This {existing.get('kind')} for {existing.get('reference')} {what} "
            f"(started by {existing.get('operator')}{when})."
        )
