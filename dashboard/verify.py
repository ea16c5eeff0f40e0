"""The verification desk: turning Khalti's answers into deliver / hold / do-not-deliver.

Only a server-side check counts (status or verify for checkout tokens, lookup for
ePayment pidx), and only a completed payment means deliver. Every request that is
sent leaves exactly one audit row; input refused before sending leaves none.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

import pandas as pd

from dashboard.khalti.client import KhaltiClient
from dashboard.khalti.errors import (
    KhaltiConnectionError,
    KhaltiError,
    NotFoundError,
    OutcomeUnknownError,
    ServerError,
    UnexpectedResponseError,
    ValidationError,
)
from dashboard.khalti.models import (
    CheckoutConfirmation,
    LookupResult,
    PaymentStatus,
    Transaction,
    TransactionDetail,
)
from dashboard.money import AmountError, format_npr, parse_rupees, rupees_text
from dashboard.nptime import format_npt, now_utc
from dashboard.store import AuditRecord, DuplicateActionError, Store, TxFilter
from dashboard.store.models import BLOCKING_OUTCOMES

__all__ = [
    "ACTIONS",
    "TEST_PAYERS",
    "AmountError",
    "BulkFileError",
    "BulkPlan",
    "BulkResult",
    "BulkRow",
    "CheckResult",
    "Decision",
    "DuplicateActionError",
    "InputError",
    "Refresh",
    "Verdict",
    "audit_csv",
    "bulk_results_csv",
    "bulk_summary",
    "check_status",
    "create_test_payment",
    "csv_safe",
    "duplicate_message",
    "lookup_epayment",
    "lookup_verdict",
    "merchant_name_for",
    "parse_amount",
    "parse_bulk_csv",
    "parse_pidx",
    "parse_token",
    "refresh_transaction",
    "run_bulk",
    "status_verdict",
    "transaction_verdict",
    "verify_checkout",
    "verify_verdict",
]

ACTIONS = ("status_check", "verify", "lookup", "bulk_status", "bulk_lookup", "refresh")
ACTION_LABELS = {
    "status_check": "Status check",
    "verify": "Verify and complete",
    "lookup": "ePayment lookup",
    "bulk_status": "Bulk status check",
    "bulk_lookup": "Bulk ePayment lookup",
    "refresh": "Refresh from Khalti",
}

# Khalti's sandbox payers; the MPIN and OTP are the same for all of them.
TEST_PAYERS = tuple(f"980000000{n}" for n in range(6))
TEST_MPIN = "1111"
TEST_OTP = "987654"
# Khalti refuses checkout payments below Rs 10.
MIN_CHECKOUT_PAISA = 1000

_REFERENCE_SHAPE = re.compile(r"^[A-Za-z0-9]{10,64}$")


# -- verdicts -----------------------------------------------------------------------


class Decision(StrEnum):
    """What the shop does next; the value is what the audit log stores."""

    DELIVER = "Deliver"
    HOLD = "Hold"
    STOP = "Do not deliver"
    NOT_CHECKED = "Could not check"
    UNKNOWN = "Outcome unknown"


# Colour of each decision on screen: only DELIVER is green.
DECISION_TONES = {
    Decision.DELIVER: "green",
    Decision.HOLD: "amber",
    Decision.STOP: "red",
    Decision.NOT_CHECKED: "amber",
    Decision.UNKNOWN: "amber",
}


@dataclass(frozen=True)
class Verdict:
    """A decision, its headline for the screen, and the reason in one sentence."""

    decision: Decision
    headline: str
    reason: str
    khalti_state: str | None = None
    alarm: bool = False

    @property
    def tone(self) -> str:
        return "red" if self.alarm else DECISION_TONES[self.decision]


def _deliver(reason: str, state: str) -> Verdict:
    return Verdict(Decision.DELIVER, "Deliver", reason, state)


def _hold(reason: str, state: str | None, headline: str = "Hold and contact Khalti") -> Verdict:
    return Verdict(Decision.HOLD, headline, reason, state)


def _stop(reason: str, state: str | None, headline: str = "Do not deliver") -> Verdict:
    return Verdict(Decision.STOP, headline, reason, state)


_STATUS_VERDICTS: Mapping[str, Verdict] = {
    "Complete": _deliver("Khalti confirms this payment is complete.", "Complete"),
    "Confirmed": _hold(
        "The customer has paid but the payment is not verified yet; "
        "verify it on this page to complete it, then deliver.",
        "Confirmed",
        headline="Hold: verify it first",
    ),
    "Initiated": _stop(
        "The customer started paying but has not finished.",
        "Initiated",
        headline="Do not deliver yet",
    ),
    "Refunded": _stop("This payment was refunded to the customer.", "Refunded"),
    "Partially refunded": _hold(
        "Part of this payment was refunded; check with Khalti before delivering.",
        "Partially refunded",
    ),
    "Failed": _stop("This payment failed; no money was received.", "Failed"),
    "Error": _stop(
        "Khalti found no payment with this token and amount. Check that the amount is "
        "exactly what the customer paid, and that the token was copied in full.",
        "Error",
    ),
}

_LOOKUP_VERDICTS: Mapping[str, Verdict] = {
    "Completed": _deliver("Khalti confirms this ePayment is complete.", "Completed"),
    "Pending": _hold("Khalti is still processing this payment.", "Pending"),
    "Initiated": _stop(
        "The customer has not paid yet.", "Initiated", headline="Do not deliver yet"
    ),
    "Refunded": _stop("This payment was refunded to the customer.", "Refunded"),
    "Partially refunded": _hold(
        "Part of this payment was refunded; check with Khalti before delivering.",
        "Partially refunded",
    ),
    "Expired": _stop("The payment link expired before the customer paid.", "Expired"),
    "User canceled": _stop("The customer canceled the payment.", "User canceled"),
}

# States of a transaction record (list, detail and verify answers).
_TRANSACTION_VERDICTS: Mapping[str, Verdict] = {
    "Completed": _deliver("Khalti shows this payment as completed.", "Completed"),
    "Confirmed": _STATUS_VERDICTS["Confirmed"],
    "Initiated": _STATUS_VERDICTS["Initiated"],
    "Failed": _STATUS_VERDICTS["Failed"],
    "Refunded": _STATUS_VERDICTS["Refunded"],
    "Partially refunded": _STATUS_VERDICTS["Partially refunded"],
}

PIDX_NOT_FOUND = _stop(
    "Khalti has no ePayment with this pidx. Check that it was copied in full.", "Not found"
)


def _unfamiliar(state: str) -> Verdict:
    return _hold(
        f"Khalti answered with a state this desk does not know (“{state}”); "
        "ask Khalti before delivering.",
        state,
    )


def status_verdict(status: PaymentStatus) -> Verdict:
    """The verdict for an answer of the checkout status API."""
    return _STATUS_VERDICTS.get(status.state) or _unfamiliar(status.state)


def lookup_verdict(result: LookupResult) -> Verdict:
    """The verdict for an ePayment lookup answer (including its 400-coded ones)."""
    return _LOOKUP_VERDICTS.get(result.status) or _unfamiliar(result.status)


def transaction_verdict(state_name: str) -> Verdict:
    """The verdict for a transaction record's state (Completed, Confirmed, ...)."""
    return _TRANSACTION_VERDICTS.get(state_name) or _unfamiliar(state_name)


def verify_verdict(transaction: Transaction, expected_paisa: int) -> Verdict:
    """The verdict for a successful verify answer, cross-checking the amount Khalti returns."""
    if transaction.amount != expected_paisa:
        return Verdict(
            Decision.STOP,
            "Amounts do not match",
            f"Khalti verified {format_npr(transaction.amount)} but "
            f"{format_npr(expected_paisa)} was entered. Do not deliver until this is "
            "sorted out with Khalti.",
            transaction.state_name,
            alarm=True,
        )
    if transaction.state_name == "Completed":
        return _deliver(
            f"Verified: Khalti completed this payment of {format_npr(expected_paisa)}.",
            "Completed",
        )
    return transaction_verdict(transaction.state_name)


def _not_checked(error: KhaltiError) -> Verdict:
    return Verdict(
        Decision.NOT_CHECKED,
        "Could not check",
        f"{error.message} Do not deliver until a check succeeds.",
        None,
    )


OUTCOME_UNKNOWN = Verdict(
    Decision.UNKNOWN,
    "Outcome unknown: check status",
    "The request reached Khalti but no answer came back, so the payment may or may not "
    "be complete. Run the status check before doing anything else.",
    None,
)


# -- input --------------------------------------------------------------------------


class InputError(ValueError):
    """Something a person typed that cannot be sent to Khalti; the text says why."""


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "…"


def _reference(text: str | None, what: str, example: str) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise InputError(f"Enter the {what} ({example}).")
    if not _REFERENCE_SHAPE.match(cleaned):
        raise InputError(
            f"“{_short(cleaned)}” is not a Khalti {what}: it is 10 to 64 letters and "
            "digits, with no spaces or symbols."
        )
    return cleaned


def parse_token(text: str | None) -> str:
    """A checkout token or transaction idx, trimmed and checked for shape."""
    return _reference(text, "payment token", "for example 8xmeJnNXfoVjCvGcZiiGe7")


def parse_pidx(text: str | None) -> str:
    """An ePayment pidx, trimmed and checked for shape."""
    return _reference(text, "pidx", "for example bZQLD9wRVWo4CdESSfuSsB")


def parse_amount(text: str | None) -> int:
    """Rupees as typed ("Rs 1,500.50") to exact paisa; AmountError says what is wrong."""
    return parse_rupees(text or "")


# -- single checks ------------------------------------------------------------------


@dataclass(frozen=True)
class CheckResult:
    """One request to Khalti, its verdict and the audit row that records it."""

    action: str
    reference: str
    amount_paisa: int | None
    verdict: Verdict
    checked_at: datetime
    audit_id: int | None = None
    raw: Mapping[str, Any] | None = field(default=None, repr=False)
    error: str | None = None
    returned_amount: int | None = None
    fee: int | None = None
    transaction_id: str | None = None


@dataclass(frozen=True)
class _Answer:
    """What came back for one request, before it is recorded."""

    verdict: Verdict
    raw: Any = None
    error: str | None = None
    returned_amount: int | None = None
    fee: int | None = None
    transaction_id: str | None = None


def _failed_answer(error: KhaltiError) -> _Answer:
    return _Answer(_not_checked(error), raw=error.body, error=error.message)


def _ask_status(client: KhaltiClient, token: str, amount_paisa: int) -> _Answer:
    try:
        status = client.payment_status(token, amount_paisa)
    except KhaltiError as exc:
        return _failed_answer(exc)
    return _Answer(status_verdict(status), raw=status.raw)


def _ask_lookup(client: KhaltiClient, pidx: str) -> _Answer:
    try:
        result = client.epayment_lookup(pidx)
    except NotFoundError as exc:
        return _Answer(PIDX_NOT_FOUND, raw=exc.body)
    except KhaltiError as exc:
        return _failed_answer(exc)
    return _Answer(
        lookup_verdict(result),
        raw=result.raw,
        returned_amount=result.total_amount,
        fee=result.fee,
        transaction_id=result.transaction_id,
    )


def _record(
    store: Store,
    mode: str,
    action: str,
    reference: str,
    amount_paisa: int | None,
    answer: _Answer,
    operator: str,
    at: datetime,
    note: str | None = None,
) -> CheckResult:
    raw = dict(answer.raw) if isinstance(answer.raw, Mapping) else answer.raw
    audit_id = store.add_audit(
        AuditRecord(
            mode=mode,
            action=action,
            reference=reference,
            amount_paisa=amount_paisa,
            verdict=answer.verdict.decision.value,
            khalti_state=answer.verdict.khalti_state,
            raw_response=raw,
            operator=operator,
            at=at,
            note=note or answer.error or None,
        )
    )
    return CheckResult(
        action=action,
        reference=reference,
        amount_paisa=amount_paisa,
        verdict=answer.verdict,
        checked_at=at,
        audit_id=audit_id,
        raw=raw if isinstance(raw, Mapping) else None,
        error=answer.error,
        returned_amount=answer.returned_amount,
        fee=answer.fee,
        transaction_id=answer.transaction_id,
    )


def check_status(
    client: KhaltiClient,
    store: Store,
    mode: str,
    token: str,
    amount_paisa: int,
    operator: str,
    *,
    action: str = "status_check",
    now: datetime | None = None,
) -> CheckResult:
    """Ask Khalti (read only) where a checkout payment stands, and record the answer."""
    answer = _ask_status(client, token, amount_paisa)
    at = now or now_utc()
    result = _record(store, mode, action, token, amount_paisa, answer, operator, at)
    _settle_unknown_verify(store, mode, token, amount_paisa, answer, at)
    return result


# Far longer than any verify request can take (connect + read timeouts): a claim still
# "sending" after this belongs to a desk that stopped mid-request (crash, restart).
STALE_SENDING = timedelta(minutes=2)


def is_unsettled(existing: Mapping[str, Any], now: datetime) -> bool:
    """Whether a verify claim's outcome is unknown: its answer was lost, or it was abandoned."""
    if existing.get("outcome") == "unknown":
        return True
    started = existing.get("started_at")
    return (
        existing.get("outcome") == "sending"
        and isinstance(started, datetime)
        and now - started > STALE_SENDING
    )


def _settle_unknown_verify(
    store: Store, mode: str, token: str, amount_paisa: int, answer: _Answer, now: datetime
) -> None:
    """A verify whose answer was lost is settled by the next status check that can tell.

    Complete means the lost verify went through; Confirmed means it did not, so it may
    be sent again. Other answers (or a different amount) leave it blocked.
    """
    existing = store.money_action(mode, "verify", token)
    if not existing or not is_unsettled(existing, now):
        return
    if existing["amount_paisa"] != amount_paisa or answer.error:
        return
    state = answer.verdict.khalti_state
    if state == "Complete":
        store.finish_money_action(
            existing["id"], "succeeded", "A status check shows the payment is complete."
        )
    elif state == "Confirmed":
        store.finish_money_action(
            existing["id"], "failed", "A status check shows the payment is still not verified."
        )


def lookup_epayment(
    client: KhaltiClient,
    store: Store,
    mode: str,
    pidx: str,
    operator: str,
    *,
    action: str = "lookup",
    now: datetime | None = None,
) -> CheckResult:
    """Look up an ePayment pidx and record the answer."""
    answer = _ask_lookup(client, pidx)
    return _record(
        store, mode, action, pidx, answer.returned_amount, answer, operator, now or now_utc()
    )


def duplicate_message(existing: Mapping[str, Any]) -> str:
    """Why a verify was not sent again, for the screen."""
    started = existing.get("started_at")
    when = f" at {format_npt(started)}" if isinstance(started, datetime) else ""
    who = f" by {existing['operator']}" if existing.get("operator") else ""
    outcome = existing.get("outcome")
    if outcome == "succeeded":
        what = "This payment was already verified"
    elif is_unsettled(existing, now_utc()):
        what = "A verification for this payment was already sent and its outcome is unknown"
    else:
        what = "A verification for this payment is already being sent"
    return f"{what}{when}{who}. Nothing was sent again; check its status instead."


def _money_outcome(error: KhaltiError) -> Literal["failed", "unknown"]:
    """Whether money can have moved when verify raised this error."""
    if isinstance(error, OutcomeUnknownError | ServerError | UnexpectedResponseError):
        return "unknown"
    if isinstance(error, KhaltiConnectionError):
        return "unknown" if error.may_have_reached_server else "failed"
    if error.http_status is not None and 400 <= error.http_status < 500:
        return "failed"
    return "unknown"


def _verify_failure(error: KhaltiError, outcome: str) -> Verdict:
    if outcome == "unknown":
        return OUTCOME_UNKNOWN
    reason = (
        f"{error.message.rstrip('.')}. Nothing was charged; run the status check to see "
        "where this payment stands."
    )
    if isinstance(error, ValidationError):
        return _stop(reason, None, headline="Not verified")
    return Verdict(Decision.NOT_CHECKED, "Not verified", reason, None)


def verify_checkout(
    client: KhaltiClient,
    store: Store,
    mode: str,
    token: str,
    amount_paisa: int,
    operator: str,
    *,
    now: datetime | None = None,
) -> CheckResult:
    """Verify (complete) a checkout payment at most once; raises DuplicateActionError."""
    # The store's claim below settles races; this look first gives the common case (a
    # second click later on) a plain answer without relying on the claim failing.
    existing = store.money_action(mode, "verify", token)
    if existing and existing["outcome"] in BLOCKING_OUTCOMES:
        raise DuplicateActionError(existing)
    action_id = store.begin_money_action(mode, "verify", token, amount_paisa, operator)
    outcome: str = "unknown"
    detail = "The desk stopped before Khalti's answer was handled."
    try:
        try:
            transaction = client.verify_payment(token, amount_paisa)
        except KhaltiError as exc:
            outcome = _money_outcome(exc)
            detail = exc.message
            answer = _Answer(_verify_failure(exc, outcome), raw=exc.body, error=exc.message)
        else:
            outcome = "succeeded"
            verdict = verify_verdict(transaction, amount_paisa)
            detail = f"{transaction.state_name}, {format_npr(transaction.amount)}"
            answer = _Answer(
                verdict,
                raw=transaction.raw,
                returned_amount=transaction.amount,
                fee=transaction.fee_amount,
                transaction_id=transaction.idx,
            )
        return _record(
            store, mode, "verify", token, amount_paisa, answer, operator, now or now_utc()
        )
    finally:
        store.finish_money_action(action_id, outcome, detail)


# -- find and refresh -----------------------------------------------------------------


@dataclass(frozen=True)
class Refresh:
    """A record fetched again from Khalti, and what changed in the local copy."""

    result: CheckResult
    detail: TransactionDetail | None
    changes: tuple[tuple[str, str, str], ...] = ()
    was_stored: bool = False


_WATCHED = (
    ("state", "State"),
    ("amount", "Amount"),
    ("fee_amount", "Fee"),
    ("refunded", "Refunded"),
)


def _shown(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key in {"amount", "fee_amount"}:
        return format_npr(int(value))
    if key == "refunded":
        return "Yes" if value else "No"
    return str(value)


def _changes(before: Mapping[str, Any] | None, after: Transaction) -> tuple:
    if before is None:
        return ()
    now_values = {
        "state": after.state_name,
        "amount": after.amount,
        "fee_amount": after.fee_amount,
        "refunded": after.refunded,
    }
    return tuple(
        (label, _shown(key, before.get(key)), _shown(key, now_values[key]))
        for key, label in _WATCHED
        if before.get(key) != now_values[key]
    )


def refresh_transaction(
    client: KhaltiClient,
    store: Store,
    mode: str,
    idx: str,
    operator: str,
    *,
    now: datetime | None = None,
) -> Refresh:
    """Fetch one transaction's detail from Khalti, store it, and say what changed."""
    at = now or now_utc()
    before = store.transaction(mode, idx)
    try:
        detail = client.transaction_detail(idx)
    except NotFoundError as exc:
        answer = _Answer(
            _stop("Khalti has no transaction with this idx.", "Not found"), raw=exc.body
        )
        return Refresh(_record(store, mode, "refresh", idx, None, answer, operator, at), None)
    except KhaltiError as exc:
        answer = _failed_answer(exc)
        return Refresh(_record(store, mode, "refresh", idx, None, answer, operator, at), None)
    transaction = detail.transaction
    store.upsert_transactions(mode, [transaction], at)
    changes = _changes(before, transaction)
    note = "; ".join(f"{label}: {old} → {new}" for label, old, new in changes) or None
    answer = _Answer(
        transaction_verdict(transaction.state_name),
        raw=detail.raw,
        returned_amount=transaction.amount,
        fee=transaction.fee_amount,
        transaction_id=transaction.idx,
    )
    result = _record(store, mode, "refresh", idx, transaction.amount, answer, operator, at, note)
    return Refresh(result, detail, changes, was_stored=before is not None)


def merchant_name_for(store: Store, mode: str, raw: Mapping[str, Any] | None = None) -> str:
    """The merchant's name as Khalti writes it in its records, for slips."""
    for record in (raw, _latest_raw(store, mode)):
        merchant = record.get("merchant") if isinstance(record, Mapping) else None
        if isinstance(merchant, Mapping) and merchant.get("name"):
            return str(merchant["name"])
    return "Khalti merchant"


def _latest_raw(store: Store, mode: str) -> Mapping[str, Any] | None:
    newest = store.transactions_page(mode, TxFilter(), limit=1)
    if newest.empty:
        return None
    stored = store.transaction(mode, str(newest["idx"].iloc[0]))
    return stored.get("raw") if stored else None


# -- test payments ----------------------------------------------------------------------


def create_test_payment(
    client: KhaltiClient, amount_paisa: int, payer: str = TEST_PAYERS[0]
) -> CheckoutConfirmation:
    """Pay as a sandbox test customer would (initiate + confirm); returns token and amount."""
    if payer not in TEST_PAYERS:
        raise InputError("Pick one of Khalti's sandbox test payers (9800000000 to 9800000005).")
    if amount_paisa < MIN_CHECKOUT_PAISA:
        raise InputError(f"Khalti takes payments of at least {format_npr(MIN_CHECKOUT_PAISA)}.")
    stamp = now_utc().strftime("%Y%m%d%H%M%S%f")
    token = client.checkout_initiate(
        mobile=payer,
        transaction_pin=TEST_MPIN,
        amount=amount_paisa,
        product_identity=f"desk-test-{stamp}",
        product_name="Verification desk test payment",
    )
    return client.checkout_confirm(
        token=token, confirmation_code=TEST_OTP, transaction_pin=TEST_MPIN
    )


# -- CSV: bulk checks and exports -------------------------------------------------------

MAX_BULK_BYTES = 2 * 1024 * 1024
MAX_BULK_ROWS = 5000
BULK_WORKERS = 4

_TOKEN_NAMES = frozenset({"token", "idx", "transaction_idx"})
_AMOUNT_NAMES = frozenset({"amount", "amount_rs", "amount_npr", "rupees", "amount_(rs)"})
_PIDX_NAMES = frozenset({"pidx"})
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_SAVE_AS_CSV = "In Excel use Save As and pick “CSV UTF-8 (Comma delimited)”."


class BulkFileError(ValueError):
    """A bulk file that cannot be checked at all; the text says what to do."""


def csv_safe(value: Any) -> str:
    """A cell that a spreadsheet will show as text, never run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


@dataclass(frozen=True)
class BulkRow:
    """One line of a bulk file: its cells as given, and what will be sent (or why not)."""

    line: int
    cells: Mapping[str, str]
    reference: str | None = None
    amount_paisa: int | None = None
    problem: str | None = None


@dataclass(frozen=True)
class BulkPlan:
    """A parsed bulk file: status checks (token, amount) or ePayment lookups (pidx)."""

    kind: Literal["status", "lookup"]
    columns: tuple[str, ...]
    rows: tuple[BulkRow, ...]
    has_header: bool = True

    @property
    def action(self) -> str:
        return "bulk_status" if self.kind == "status" else "bulk_lookup"

    @property
    def ready(self) -> tuple[BulkRow, ...]:
        return tuple(row for row in self.rows if row.problem is None)

    @property
    def problems(self) -> tuple[BulkRow, ...]:
        return tuple(row for row in self.rows if row.problem is not None)


def _decode(data: bytes) -> str:
    if len(data) > MAX_BULK_BYTES:
        raise BulkFileError(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; at most 2 MB can be checked at "
            "once. Split it into smaller files."
        )
    if data.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):
        raise BulkFileError(f"This is an Excel workbook, not a CSV file. {_SAVE_AS_CSV}")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise BulkFileError(f"The file's text cannot be read. {_SAVE_AS_CSV}") from None
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BulkFileError(
                f"The file is not plain UTF-8 text (is it a CSV file?). {_SAVE_AS_CSV}"
            ) from None
    if "\x00" in text:
        raise BulkFileError(f"The file is not a CSV text file. {_SAVE_AS_CSV}")
    if not text.strip():
        raise BulkFileError("The file is empty.")
    return text


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    for candidate in (",", ";", "\t"):
        if candidate in first:
            return candidate
    return ","


def _header_name(cell: str) -> str:
    return re.sub(r"\s+", "_", cell.strip().lower())


def _kind_from_header(names: Sequence[str]) -> Literal["status", "lookup"] | None:
    present = set(names)
    has_token, has_pidx = bool(present & _TOKEN_NAMES), bool(present & _PIDX_NAMES)
    if has_token and has_pidx:
        raise BulkFileError(
            "The file has both a token and a pidx column; put checkout payments and "
            "ePayments in separate files."
        )
    if has_pidx:
        return "lookup"
    if has_token:
        if not present & _AMOUNT_NAMES:
            raise BulkFileError(
                "The file has a token column but no amount column; the status check needs "
                "both (amount in rupees)."
            )
        return "status"
    return None


def _headerless_kind(first: Sequence[str]) -> Literal["status", "lookup"] | None:
    try:
        if len(first) == 1:
            parse_pidx(first[0])
            return "lookup"
        if len(first) == 2:
            parse_token(first[0])
            parse_amount(first[1])
            return "status"
    except ValueError:
        return None
    return None


def _trimmed(row: list[str]) -> list[str]:
    cells = [cell.strip() for cell in row]
    while cells and not cells[-1]:
        cells.pop()
    return cells


def _pick(cells: Mapping[str, str], names: frozenset[str]) -> str:
    return next((cells[name] for name in cells if name in names and cells[name]), "")


def parse_bulk_csv(data: bytes) -> BulkPlan:
    """Read a bulk file (token,amount or pidx rows); bad rows are marked, bad files refused."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text))
    try:
        # line_num, not a count of records: a quoted cell may span lines.
        rows = [(reader.line_num, _trimmed(row)) for row in reader]
    except csv.Error as exc:
        raise BulkFileError(f"The file is not a readable CSV file ({exc}).") from None
    rows = [(number, cells) for number, cells in rows if any(cells)]
    if not rows:
        raise BulkFileError("The file is empty.")
    _, first = rows[0]
    names = [_header_name(cell) for cell in first]
    kind = _kind_from_header(names)
    has_header = kind is not None
    if kind is None:
        kind = _headerless_kind(first)
        if kind is None:
            raise BulkFileError(
                "The first line must name the columns: token,amount (amount in rupees) for "
                "checkout payments, or pidx for ePayments. Found: "
                f"“{_short(','.join(first))}”."
            )
        names = ["token", "amount"] if kind == "status" else ["pidx"]
    body = rows[1:] if has_header else rows
    if len(body) > MAX_BULK_ROWS:
        raise BulkFileError(
            f"The file has {len(body):,} rows; at most {MAX_BULK_ROWS:,} can be checked at "
            "once. Split it into smaller files."
        )
    if not body:
        raise BulkFileError("The file has a header but no rows to check.")
    columns = tuple(names)
    seen: dict[tuple[str, int | None], int] = {}
    parsed = [_bulk_row(kind, columns, number, cells, seen) for number, cells in body]
    return BulkPlan(kind, columns, tuple(parsed), has_header)


def _bulk_row(
    kind: str,
    columns: tuple[str, ...],
    line: int,
    cells: list[str],
    seen: dict[tuple[str, int | None], int],
) -> BulkRow:
    named = dict(zip(columns, cells, strict=False))
    if len(cells) > len(columns):
        extra = f"{len(cells)} values but the file has {len(columns)} columns"
        return BulkRow(line, named, problem=f"This line has {extra}; check for stray commas.")
    try:
        if kind == "lookup":
            reference, amount = parse_pidx(_pick(named, _PIDX_NAMES)), None
        else:
            reference = parse_token(_pick(named, _TOKEN_NAMES))
            amount = parse_amount(_pick(named, _AMOUNT_NAMES))
    except ValueError as exc:
        return BulkRow(line, named, problem=str(exc))
    key = (reference, amount)
    if key in seen:
        return BulkRow(
            line, named, reference, amount, problem=f"Same as line {seen[key]}; checked there."
        )
    seen[key] = line
    return BulkRow(line, named, reference, amount)


@dataclass(frozen=True)
class BulkResult:
    """A bulk row and its check (None when the row was not sent)."""

    row: BulkRow
    result: CheckResult | None


def run_bulk(
    client: KhaltiClient,
    store: Store,
    mode: str,
    plan: BulkPlan,
    operator: str,
    *,
    workers: int = BULK_WORKERS,
    on_progress: Callable[[int, int], None] | None = None,
) -> list[BulkResult]:
    """Run the read-only check for every good row, a few at a time; results in file order."""
    ready = plan.ready
    results: dict[int, CheckResult] = {}

    def ask(row: BulkRow) -> _Answer:
        assert row.reference is not None
        if plan.kind == "lookup":
            return _ask_lookup(client, row.reference)
        assert row.amount_paisa is not None
        return _ask_status(client, row.reference, row.amount_paisa)

    if on_progress:
        on_progress(0, len(ready))
    # Only the requests run in the pool; audit rows are written here, one writer at a time.
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(ask, row): row for row in ready}
        for done, future in enumerate(as_completed(futures), 1):
            row = futures[future]
            answer = future.result()
            amount = row.amount_paisa if plan.kind == "status" else answer.returned_amount
            assert row.reference is not None
            results[row.line] = _record(
                store, mode, plan.action, row.reference, amount, answer, operator, now_utc()
            )
            if on_progress:
                on_progress(done, len(ready))
    return [BulkResult(row, results.get(row.line)) for row in plan.rows]


def bulk_summary(results: Iterable[BulkResult]) -> dict[str, int]:
    """How many rows got each decision, plus "Not checked" for rows never sent."""
    counts: dict[str, int] = {}
    for item in results:
        label = item.result.verdict.decision.value if item.result else "Not checked"
        counts[label] = counts.get(label, 0) + 1
    return counts


def _csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([csv_safe(name) for name in header])
    writer.writerows([csv_safe(cell) for cell in row] for row in rows)
    # The BOM makes Excel read the file as UTF-8 (names in Devanagari, "Rs", "→").
    return buffer.getvalue().encode("utf-8-sig")


def bulk_results_csv(plan: BulkPlan, results: Sequence[BulkResult]) -> bytes:
    """The uploaded rows with their verdicts, as a CSV file safe to open in a spreadsheet."""
    lookup = plan.kind == "lookup"
    header = ["line", *plan.columns, "verdict", "khalti_state", "detail"]
    if lookup:
        header += ["total_amount_rs", "fee_rs", "transaction_id"]
    header += ["checked_at", "error"]
    lines = []
    for item in results:
        cells = [item.row.line, *(item.row.cells.get(name, "") for name in plan.columns)]
        check = item.result
        if check is None:
            cells += ["Not checked", "", ""]
            cells += ["", "", ""] if lookup else []
            cells += ["", item.row.problem or ""]
        else:
            cells += [check.verdict.decision.value, check.verdict.khalti_state or ""]
            cells += [check.verdict.reason]
            if lookup:
                cells += [
                    "" if check.returned_amount is None else rupees_text(check.returned_amount),
                    "" if check.fee is None else rupees_text(check.fee),
                    check.transaction_id or "",
                ]
            cells += [format_npt(check.checked_at, seconds=True), check.error or ""]
        lines.append(cells)
    return _csv_bytes(header, lines)


AUDIT_EXPORT_COLUMNS = (
    "id",
    "at",
    "mode",
    "action",
    "reference",
    "amount_rs",
    "verdict",
    "khalti_state",
    "operator",
    "note",
)


def audit_csv(entries: Iterable[Mapping[str, Any]]) -> bytes:
    """Audit rows (dicts, e.g. from DataFrame.to_dict("records")) as a CSV file."""
    lines = []
    for entry in entries:
        at, amount = entry.get("at"), entry.get("amount_paisa")
        lines.append(
            [
                entry.get("id"),
                format_npt(at, seconds=True) if isinstance(at, datetime) else at,
                entry.get("mode"),
                ACTION_LABELS.get(str(entry.get("action")), entry.get("action")),
                entry.get("reference"),
                "" if _missing(amount) else rupees_text(int(amount)),
                entry.get("verdict"),
                "" if _missing(entry.get("khalti_state")) else entry.get("khalti_state"),
                entry.get("operator"),
                "" if _missing(entry.get("note")) else entry.get("note"),
            ]
        )
    return _csv_bytes(AUDIT_EXPORT_COLUMNS, lines)


def _missing(value: Any) -> bool:
    """True for None and for the NaN / NA / NaT that pandas puts in empty cells."""
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))
