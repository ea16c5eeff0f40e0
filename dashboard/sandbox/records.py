"""The sandbox's transaction and ePayment values, and the clock they are stamped with."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

KATHMANDU = ZoneInfo("Asia/Kathmandu")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND_US = 1_000_000
HOUR_US = 3600 * SECOND_US
DAY_US = 24 * HOUR_US

WALLET = 0
TYPE_NAMES = (
    "Wallet payment",
    "Ebanking payment",
    "Mobile banking",
    "Connect IPS",
    "SCT card",
    "Fee",
)
FEE_TYPE = TYPE_NAMES.index("Fee")

# Khalti shows "is complete" and "is confirm"; the other templates follow that pattern.
STATE_TEMPLATES = MappingProxyType(
    {
        "Completed": "is complete",
        "Confirmed": "is confirm",
        "Initiated": "is initiate",
        "Failed": "is fail",
        "Refunded": "is refund",
        "Partially refunded": "is partially refund",
    }
)
STATE_NAMES = tuple(STATE_TEMPLATES)
REFUNDED_STATES = frozenset({"Refunded", "Partially refunded"})
REFUNDABLE_STATES = frozenset({"Completed", "Partially refunded"})

EPAYMENT_STATUSES = (
    "Completed",
    "Pending",
    "Initiated",
    "Refunded",
    "Partially refunded",
    "Expired",
    "User canceled",
)
# Statuses that only exist once money has moved, so they belong to a list transaction.
EPAYMENT_PAID_STATUSES = frozenset({"Completed", "Refunded", "Partially refunded"})


def to_us(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: the sandbox clock needs an aware one")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_us(us: int) -> datetime:
    """The Nepal Time datetime `us` microseconds after the Unix epoch."""
    return (_EPOCH + timedelta(microseconds=us)).astimezone(KATHMANDU)


def iso(us: int) -> str:
    """Khalti's timestamp spelling: ISO 8601, microseconds, +05:45."""
    return from_us(us).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class User:
    """The paying customer as Khalti shows them on a record."""

    idx: str
    name: str
    mobile: str


@dataclass(frozen=True, slots=True)
class Txn:
    """One merchant transaction. `seq` is its position from the oldest, 0-based."""

    seq: int
    created_us: int
    kind: int
    state: str
    amount: int
    fee: int
    user: User
    ebanker: str | None
    meta: Mapping[str, Any] | None
    refunded_amount: int = 0

    @property
    def refunded(self) -> bool:
        return self.state in REFUNDED_STATES

    @property
    def refundable(self) -> int:
        """Paisa that may still be refunded."""
        return self.amount - self.refunded_amount if self.state in REFUNDABLE_STATES else 0

    def with_state(self, state: str) -> "Txn":
        """This transaction moved to `state`, with its refunded amount kept consistent."""
        if state not in STATE_TEMPLATES:
            raise ValueError(f"unknown transaction state {state!r}; expected one of {STATE_NAMES}")
        if state == "Refunded":
            refunded_amount = self.amount
        elif state == "Partially refunded":
            refunded_amount = self.refunded_amount
            if not 0 < refunded_amount < self.amount:
                refunded_amount = min(self.amount - 1, max(1, self.amount // 2))
        else:
            refunded_amount = 0
        return replace(self, state=state, refunded_amount=refunded_amount)


@dataclass(slots=True)
class EPayment:
    """A KPG-2 payment request. Paid ones point at a list transaction through `txn_seq`."""

    pidx: str
    amount: int
    status: str
    created_us: int | None  # None: a seeded demo request that never expires
    txn_seq: int | None = None
    transaction_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
