"""Khalti merchant API: client, typed answers and errors."""

from dashboard.khalti.client import KhaltiClient
from dashboard.khalti.errors import (
    AuthenticationError,
    KhaltiConnectionError,
    KhaltiError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    ValidationError,
)
from dashboard.khalti.keys import KeyShapeError, SecretKey, check_base_url
from dashboard.khalti.models import (
    CheckoutConfirmation,
    EpaymentInitiation,
    LookupResult,
    Party,
    PaymentStatus,
    RefundResult,
    Transaction,
    TransactionDetail,
    TransactionPage,
)

__all__ = [
    "AuthenticationError",
    "CheckoutConfirmation",
    "EpaymentInitiation",
    "KeyShapeError",
    "KhaltiClient",
    "KhaltiConnectionError",
    "KhaltiError",
    "LookupResult",
    "NotFoundError",
    "OutcomeUnknownError",
    "Party",
    "PaymentStatus",
    "RateLimitError",
    "RefundResult",
    "SecretKey",
    "ServerError",
    "Transaction",
    "TransactionDetail",
    "TransactionPage",
    "UnexpectedResponseError",
    "ValidationError",
    "check_base_url",
]
