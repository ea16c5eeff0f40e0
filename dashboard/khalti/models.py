"""Typed views of Khalti's answers. Amounts are integer paisa; times are aware datetimes.

Every model keeps the raw answer in `raw`, so fields Khalti adds later are never lost.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dashboard.khalti.errors import UnexpectedResponseError
from dashboard.nptime import parse_khalti_time

# Lookup statuses after which the merchant may deliver, or must hold.
DELIVER_STATUSES = frozenset({"Completed"})


def _require(data: Mapping[str, Any], key: str, what: str) -> Any:
    if key not in data or data[key] is None:
        raise UnexpectedResponseError(f"Khalti's {what} answer has no “{key}”.", body=dict(data))
    return data[key]


_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


def _integer(value: Any, key: str, what: str) -> int:
    # bool is an int in Python; an amount of True is a broken answer, not 1 paisa. Strings
    # are held to ASCII digits: int() would also take "1_000", " 7 " and Devanagari digits.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value):
        return int(value)
    shown = repr(value) if len(repr(value)) <= 40 else type(value).__name__
    raise UnexpectedResponseError(f"Khalti's {what} answer has a non-integer “{key}” ({shown}).")


def _time(value: Any, key: str, what: str) -> datetime:
    try:
        return parse_khalti_time(str(value))
    except ValueError as exc:
        raise UnexpectedResponseError(f"Khalti's {what} answer has an unreadable “{key}”.") from exc


def _mapping(data: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise UnexpectedResponseError(f"Khalti's {what} answer is not a JSON object.")
    return data


def _named(value: Any) -> tuple[str | None, str | None]:
    """(idx, name) from Khalti's nested {"idx", "name"} objects; tolerates a bare string."""
    if isinstance(value, Mapping):
        return value.get("idx"), value.get("name")
    if isinstance(value, str):
        return None, value
    return None, None


@dataclass(frozen=True)
class Party:
    idx: str | None
    name: str | None
    mobile: str | None

    @classmethod
    def from_api(cls, data: Any) -> Party | None:
        if not isinstance(data, Mapping):
            return None
        return cls(idx=data.get("idx"), name=data.get("name"), mobile=data.get("mobile"))


@dataclass(frozen=True)
class Transaction:
    idx: str
    type_name: str
    state_name: str
    amount: int
    fee_amount: int
    refunded: bool
    created_on: datetime
    ebanker: str | None = None
    state_template: str | None = None
    user: Party | None = None
    merchant: Party | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any, what: str = "transaction") -> Transaction:
        data = _mapping(data, what)
        _, type_name = _named(data.get("type"))
        state = data.get("state")
        _, state_name = _named(state)
        template = state.get("template") if isinstance(state, Mapping) else None
        _, ebanker = _named(data.get("ebanker"))
        fee = data.get("fee_amount")
        return cls(
            idx=str(_require(data, "idx", what)),
            type_name=type_name or "Unknown",
            state_name=state_name or "Unknown",
            amount=_integer(_require(data, "amount", what), "amount", what),
            fee_amount=0 if fee is None else _integer(fee, "fee_amount", what),
            refunded=bool(data.get("refunded", False)),
            created_on=_time(_require(data, "created_on", what), "created_on", what),
            ebanker=ebanker,
            state_template=template,
            user=Party.from_api(data.get("user")),
            merchant=Party.from_api(data.get("merchant")),
            raw=dict(data),
        )


@dataclass(frozen=True)
class TransactionPage:
    records: list[Transaction]
    current_page: int
    total_pages: int
    total_records: int
    next_url: str | None
    previous_url: str | None
    record_range: tuple[int, int] | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> TransactionPage:
        what = "transaction list"
        data = _mapping(data, what)
        records = data.get("records")
        if not isinstance(records, list):
            raise UnexpectedResponseError("Khalti's transaction list answer has no records list.")
        span = data.get("record_range")
        record_range = None
        if isinstance(span, list | tuple) and len(span) == 2:
            record_range = (
                _integer(span[0], "record_range", what),
                _integer(span[1], "record_range", what),
            )
        raw = {k: v for k, v in data.items() if k != "records"}
        return cls(
            records=[Transaction.from_api(r, what) for r in records],
            current_page=_integer(data.get("current_page") or 1, "current_page", what),
            total_pages=_integer(data.get("total_pages") or 0, "total_pages", what),
            total_records=_integer(data.get("total_records") or 0, "total_records", what),
            next_url=data.get("next"),
            previous_url=data.get("previous"),
            record_range=record_range,
            raw=raw,
        )


@dataclass(frozen=True)
class TransactionDetail:
    transaction: Transaction
    can_refund: bool
    can_complete: bool
    children: list[Transaction]
    meta: Mapping[str, Any] | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> TransactionDetail:
        what = "transaction detail"
        data = _mapping(data, what)
        children = data.get("child_transactions") or []
        meta = data.get("meta")
        return cls(
            transaction=Transaction.from_api(data, what),
            can_refund=bool(data.get("can_refund", False)),
            can_complete=bool(data.get("can_complete", False)),
            children=[Transaction.from_api(c, what) for c in children if isinstance(c, Mapping)],
            meta=dict(meta) if isinstance(meta, Mapping) else None,
            raw=dict(data),
        )


@dataclass(frozen=True)
class PaymentStatus:
    """Answer of the read-only checkout status API."""

    state: str
    status: bool
    detail: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> PaymentStatus:
        data = _mapping(data, "payment status")
        return cls(
            state=str(_require(data, "state", "payment status")),
            status=bool(data.get("status", False)),
            detail=str(data.get("detail") or ""),
            raw=dict(data),
        )


@dataclass(frozen=True)
class LookupResult:
    """Answer of the ePayment lookup API (also for its 400-coded Expired/User canceled)."""

    pidx: str
    status: str
    total_amount: int | None
    transaction_id: str | None
    fee: int | None
    refunded: bool
    http_status: int
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_completed(self) -> bool:
        return self.status in DELIVER_STATUSES

    @classmethod
    def from_api(cls, data: Any, http_status: int) -> LookupResult:
        what = "ePayment lookup"
        data = _mapping(data, what)
        total, fee = data.get("total_amount"), data.get("fee")
        return cls(
            pidx=str(_require(data, "pidx", what)),
            status=str(_require(data, "status", what)),
            total_amount=None if total is None else _integer(total, "total_amount", what),
            transaction_id=data.get("transaction_id"),
            fee=None if fee is None else _integer(fee, "fee", what),
            refunded=bool(data.get("refunded", False)),
            http_status=http_status,
            raw=dict(data),
        )


@dataclass(frozen=True)
class EpaymentInitiation:
    pidx: str
    payment_url: str
    expires_at: datetime | None
    expires_in: int | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> EpaymentInitiation:
        what = "ePayment initiate"
        data = _mapping(data, what)
        expires = data.get("expires_at")
        return cls(
            pidx=str(_require(data, "pidx", what)),
            payment_url=str(_require(data, "payment_url", what)),
            expires_at=_time(expires, "expires_at", what) if expires else None,
            expires_in=data.get("expires_in"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class CheckoutConfirmation:
    token: str
    amount: int
    mobile: str | None
    product_identity: str | None
    product_name: str | None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Any) -> CheckoutConfirmation:
        what = "checkout confirm"
        data = _mapping(data, what)
        return cls(
            token=str(_require(data, "token", what)),
            amount=_integer(_require(data, "amount", what), "amount", what),
            mobile=data.get("mobile"),
            product_identity=data.get("product_identity"),
            product_name=data.get("product_name"),
            raw=dict(data),
        )


@dataclass(frozen=True)
class RefundResult:
    detail: str
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
