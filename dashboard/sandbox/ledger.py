"""The sandbox's books: seeded history, the payments made since, and Khalti's rules on them.

Operations take parsed request fields and return JSON-ready dicts, or raise ApiError
with the body Khalti would answer; HTTP itself lives in server.py.
"""

import re
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from types import MappingProxyType
from typing import Any

from dashboard.sandbox.demo import MERCHANT_LOGIN, MERCHANT_NAME, DemoGenerator, fee_for
from dashboard.sandbox.forms import ApiError, Fields, as_integer, not_found
from dashboard.sandbox.ids import IdCodec, Kind
from dashboard.sandbox.records import (
    EPAYMENT_PAID_STATUSES,
    EPAYMENT_STATUSES,
    FEE_TYPE,
    REFUNDABLE_STATES,
    SECOND_US,
    STATE_NAMES,
    STATE_TEMPLATES,
    TYPE_NAMES,
    WALLET,
    EPayment,
    Txn,
    User,
    iso,
    to_us,
)

TEST_PAYERS = tuple(f"98000000{number:02d}" for number in range(6))
TEST_MPIN = "1111"
TEST_OTP = "987654"
_TEST_PAYER_USERS = 1 << 62  # user numbers far above any seeded customer's
EPAYMENT_EXPIRES_IN = 1800
EPAYMENT_LINK_LIFETIME_US = 60 * 60 * SECOND_US
PAYMENT_PAGE = "https://test-pay.khalti.com/?pidx="
DEMO_SCAN = 600  # newest records searched for demo tokens before states are forced
DEMO_EPAYMENT_AMOUNTS = (150000, 50000, 120000, 80000, 250000, 30000, 99900)

# (state, status, detail) of the status endpoint; the misspellings are Khalti's own.
STATUS_ANSWERS = MappingProxyType(
    {
        "Completed": ("Complete", True, "Transaction complete."),
        "Initiated": ("Initiated", True, "Transaciton initiated."),
        "Confirmed": ("Confirmed", True, "Transaciton not verified."),
        "Refunded": ("Refunded", False, "Transaciton refunded."),
        "Partially refunded": ("Partially refunded", False, "Transaction partially refunded."),
        "Failed": ("Failed", False, "Transaction failed."),
    }
)
STATUS_ERROR = MappingProxyType(
    {"state": "Error", "status": False, "detail": "Transaction not found"}
)
VERIFY_REFUSALS = MappingProxyType(
    {
        "Completed": "Transaction already verified.",
        "Refunded": "Transaction already verified and refunded.",
        "Partially refunded": "Transaction already verified and partially refunded.",
        "Initiated": "Transaction not confirmed yet.",
        "Failed": "Transaction failed.",
    }
)
AMOUNT_MISMATCH = "Amount does not match the transaction amount."
_MOBILE = re.compile(r"9[78]\d{8}")
_URL = re.compile(r"https?://[^\s/$.?#][^\s]*", re.IGNORECASE)


class Ledger:
    """Every transaction and ePayment request of one sandbox, safe to use from many threads."""

    def __init__(self, *, records: int, seed: int, now: datetime) -> None:
        self.codec = IdCodec(seed)
        self._demo = DemoGenerator(records, seed, now, self.codec)
        self._seeded = records
        self._extras: list[Txn] = []
        self._overrides: dict[int, Txn] = {}
        self._epayments: dict[str, EPayment] = {}
        self._lock = threading.RLock()
        self._clock_origin_us = to_us(now)
        self._clock_origin = time.monotonic()
        self._skew_us = 0
        self._last_us = self._demo.txn(records - 1).created_us if records else 0
        self._types = tuple(
            {"idx": self.codec.encode(Kind.TYPE, number), "name": name}
            for number, name in enumerate(TYPE_NAMES)
        )
        self._states = {
            name: {"idx": self.codec.encode(Kind.STATE, number), "name": name, "template": template}
            for number, (name, template) in enumerate(STATE_TEMPLATES.items())
        }
        self._merchant = {
            "idx": self.codec.encode(Kind.MERCHANT, 0),
            "name": MERCHANT_NAME,
            "mobile": MERCHANT_LOGIN,
        }
        self._test_payers = {
            mobile: User(
                self.codec.encode(Kind.USER, _TEST_PAYER_USERS + number), "Test User", mobile
            )
            for number, mobile in enumerate(TEST_PAYERS)
        }
        self.demo_tokens: dict[str, tuple[str, int]] = {}
        self.demo_pidx: dict[str, str] = {}
        self._seed_demo()

    # -- clock and storage -------------------------------------------------------------

    def now_us(self) -> int:
        """The server clock: `now` at start-up, running with real time, plus any advance."""
        elapsed = round((time.monotonic() - self._clock_origin) * SECOND_US)
        return self._clock_origin_us + elapsed + self._skew_us

    def advance(self, seconds: float) -> None:
        """Move the server clock forward, e.g. to let an ePayment link expire."""
        with self._lock:
            self._skew_us += round(seconds * SECOND_US)

    def _tick(self) -> int:
        # New payments must sort after every older one even when the clock stands still.
        self._last_us = max(self.now_us(), self._last_us + 1)
        return self._last_us

    @property
    def total(self) -> int:
        return self._seeded + len(self._extras)

    def _get(self, seq: int) -> Txn:
        if seq >= self._seeded:
            return self._extras[seq - self._seeded]
        return self._overrides.get(seq) or self._demo.txn(seq)

    def _put(self, txn: Txn) -> None:
        if txn.seq >= self._seeded:
            self._extras[txn.seq - self._seeded] = txn
        else:
            self._overrides[txn.seq] = txn

    def _append(self, make: Callable[[int, int], Txn]) -> Txn:
        """Add `make(seq, created_us)` as the newest transaction."""
        with self._lock:
            txn = make(self.total, self._tick())
            self._extras.append(txn)
            return txn

    def _find(self, idx: str) -> Txn | None:
        seq = self.codec.decode(idx, Kind.TRANSACTION)
        return self._get(seq) if seq is not None and seq < self.total else None

    def _by_token(self, token: str | None) -> Txn | None:
        seq = self.codec.decode(token, Kind.TOKEN) if token else None
        return self._get(seq) if seq is not None and seq < self.total else None

    def idx(self, txn: Txn) -> str:
        return self.codec.encode(Kind.TRANSACTION, txn.seq)

    def token(self, txn: Txn) -> str:
        return self.codec.encode(Kind.TOKEN, txn.seq)

    # -- rendering ---------------------------------------------------------------------

    def render(self, txn: Txn) -> dict[str, Any]:
        """A transaction as the list endpoint shows it."""
        return {
            "idx": self.idx(txn),
            "type": dict(self._types[txn.kind]),
            "state": dict(self._states[txn.state]),
            "amount": txn.amount,
            "fee_amount": txn.fee,
            "refunded": txn.refunded,
            "created_on": iso(txn.created_us),
            "ebanker": txn.ebanker,
            "user": {"idx": txn.user.idx, "name": txn.user.name, "mobile": txn.user.mobile},
            "merchant": dict(self._merchant),
        }

    def render_detail(self, txn: Txn) -> dict[str, Any]:
        """A transaction as the detail endpoint shows it."""
        # Khalti keeps its fee when a payment is refunded, so the fee stays Completed.
        unpaid = txn.state in ("Initiated", "Confirmed", "Failed")
        fee_state = txn.state if unpaid else "Completed"
        fee = {
            "idx": self.codec.encode(Kind.FEE, txn.seq),
            "type": dict(self._types[FEE_TYPE]),
            "state": dict(self._states[fee_state]),
            "amount": txn.fee,
            "fee_amount": 0,
            "refunded": False,
            "created_on": iso(txn.created_us),
        }
        return {
            **self.render(txn),
            "can_refund": txn.refundable > 0,
            "can_complete": txn.state == "Confirmed",
            "child_transactions": [fee],
            "meta": dict(txn.meta) if txn.meta is not None else None,
        }

    # -- transactions ------------------------------------------------------------------

    def newest(self, offset: int, limit: int, total: int) -> list[dict[str, Any]]:
        """Rendered list positions offset .. offset+limit-1, newest first, of the list as it
        stood when it held `total` transactions (so a page never mixes in later payments)."""
        with self._lock:
            first = total - 1 - offset
            seqs = range(first, max(first - limit, -1), -1)
            known = [
                self._extras[seq - self._seeded]
                if seq >= self._seeded
                else self._overrides.get(seq)
                for seq in seqs
            ]
        # Untouched seeded records are pure functions of seq: build them outside the lock.
        return [
            self.render(txn if txn is not None else self._demo.txn(seq))
            for seq, txn in zip(seqs, known, strict=True)
        ]

    def record(self, idx: str) -> dict[str, Any] | None:
        """The list rendering of transaction `idx`, or None."""
        with self._lock:
            txn = self._find(idx)
        return self.render(txn) if txn else None

    def detail(self, idx: str) -> dict[str, Any]:
        with self._lock:
            txn = self._find(idx)
        if txn is None:
            raise not_found()
        return self.render_detail(txn)

    def add_payments(self, count: int, state: str, amount: int | None) -> list[str]:
        """`count` new payments at the head of the list; their idx, newest first."""
        if state not in STATE_TEMPLATES:
            raise ValueError(f"unknown transaction state {state!r}; expected one of {STATE_NAMES}")
        if count < 0:
            raise ValueError("count must not be negative")
        if amount is not None and amount < 1:
            raise ValueError("amount is in paisa and must be positive")
        made = [
            self._append(lambda seq, us: self._demo.fresh(seq, us, state, amount))
            for _ in range(count)
        ]
        return [self.idx(txn) for txn in reversed(made)]

    def set_state(self, idx: str, state: str) -> None:
        """Force transaction `idx`, or ePayment `pidx`, into `state`."""
        with self._lock:
            if idx in self._epayments:
                self._set_epayment_status(self._epayments[idx], state)
                return
            txn = self._find(idx)
            if txn is None:
                raise KeyError(idx)
            self._put(txn.with_state(state))

    def refund(self, idx: str, data: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            txn = self._find(idx)
            if txn is None:
                raise not_found()
            fields = Fields(data)
            amount = fields.integer("amount", required=False)
            if amount is not None and amount < 1:
                fields.fail("amount", "Ensure this value is greater than or equal to 1.")
            # Money from a bank goes back to a Khalti wallet, so Khalti asks which one.
            mobile = fields.text("mobile", required=txn.kind != WALLET)
            if mobile is not None and txn.kind != WALLET and not _MOBILE.fullmatch(mobile):
                fields.fail("mobile", "Enter a valid Khalti mobile number.")
            fields.check()
            if txn.state == "Refunded":
                raise ApiError(400, {"detail": "Transaction already refunded."})
            if txn.state not in REFUNDABLE_STATES:
                message = f"Only a completed transaction can be refunded; this one is {txn.state}."
                raise ApiError(400, {"detail": message})
            remaining = txn.refundable
            amount = remaining if amount is None else amount
            if amount > remaining:
                message = f"Amount exceeds the refundable amount of {remaining} paisa."
                raise ApiError(400, {"amount": [message], "error_key": "validation_error"})
            refunded = txn.refunded_amount + amount
            state = "Refunded" if refunded == txn.amount else "Partially refunded"
            self._put(replace(txn, state=state, refunded_amount=refunded))
        return {"detail": "Transaction refund successful."}

    # -- checkout (initiate, confirm, verify, status) -----------------------------------

    def _check_public_key(self, fields: Fields, public_key: str) -> None:
        given = fields.text("public_key")
        if given is not None and given != public_key:
            fields.fail("public_key", "Invalid public key.")

    def _check_pin(self, fields: Fields) -> None:
        pin = fields.text("transaction_pin")
        if pin is not None and pin != TEST_MPIN:
            fields.fail("transaction_pin", "Invalid transaction pin.")

    def initiate(self, data: dict[str, Any], public_key: str) -> dict[str, Any]:
        fields = Fields(data)
        self._check_public_key(fields, public_key)
        mobile = fields.text("mobile")
        if mobile is not None and mobile not in self._test_payers:
            fields.fail("mobile", "Not a sandbox Khalti ID: use 9800000000 to 9800000005.")
        self._check_pin(fields)
        amount = fields.amount()
        meta = {
            "product_identity": fields.text("product_identity"),
            "product_name": fields.text("product_name"),
            "product_url": fields.text("product_url", required=False),
        }
        fields.check()
        meta.update((key, value) for key, value in data.items() if key.startswith("merchant_"))
        txn = self._append(
            lambda seq, us: Txn(
                seq=seq,
                created_us=us,
                kind=WALLET,
                state="Initiated",
                amount=amount,
                fee=fee_for(amount, WALLET),
                user=self._test_payers[mobile],
                ebanker=None,
                meta=MappingProxyType(meta),
            )
        )
        return {"token": self.token(txn)}

    def confirm(self, data: dict[str, Any], public_key: str) -> dict[str, Any]:
        fields = Fields(data)
        self._check_public_key(fields, public_key)
        token = fields.text("token")
        code = fields.text("confirmation_code")
        if code is not None and code != TEST_OTP:
            fields.fail("confirmation_code", "Invalid confirmation code.")
        self._check_pin(fields)
        with self._lock:
            txn = self._by_token(token)
            if token is not None and txn is None:
                fields.fail("token", "Invalid token.")
            fields.check()
            if txn.state != "Initiated":
                message = f"Only an initiated transaction can be confirmed, not a {txn.state} one."
                raise ApiError(400, {"detail": message})
            self._put(txn.with_state("Confirmed"))
        meta = txn.meta or {}
        return {
            "token": token,
            "amount": txn.amount,
            "mobile": f"{txn.user.mobile[:2]}XXXXX{txn.user.mobile[-3:]}",
            "product_identity": meta.get("product_identity"),
            "product_name": meta.get("product_name"),
        }

    def verify(self, data: dict[str, Any]) -> dict[str, Any]:
        fields = Fields(data)
        token = fields.text("token")
        amount = fields.integer("amount")
        fields.check()
        with self._lock:
            txn = self._by_token(token)
            if txn is None:
                raise ApiError(400, {"token": ["Invalid token."]})
            if amount != txn.amount:
                raise ApiError(400, {"amount": [AMOUNT_MISMATCH], "error_key": "validation_error"})
            if txn.state != "Confirmed":
                raise ApiError(400, {"detail": VERIFY_REFUSALS[txn.state]})
            txn = txn.with_state("Completed")
            self._put(txn)
        return self.render(txn)

    def status(self, token: str | None, amount: str | None) -> dict[str, Any]:
        """The status table row of a token or idx, or the Error row."""
        with self._lock:
            txn = self._by_token(token) or (self._find(token) if token else None)
        if txn is None or as_integer(amount) != txn.amount:
            return dict(STATUS_ERROR)
        state, status, detail = STATUS_ANSWERS[txn.state]
        return {"state": state, "status": status, "detail": detail}

    # -- ePayment (KPG-2) -------------------------------------------------------------

    def epayment_initiate(self, data: dict[str, Any]) -> dict[str, Any]:
        fields = Fields(data)
        for name in ("return_url", "website_url"):
            url = fields.text(name)
            if url is not None and not _URL.fullmatch(url):
                fields.fail(name, "Enter a valid URL.")
        amount = fields.amount()
        details = {
            "purchase_order_id": fields.text("purchase_order_id"),
            "purchase_order_name": fields.text("purchase_order_name"),
        }
        if "customer_info" in data and not isinstance(data["customer_info"], dict):
            fields.fail("customer_info", "Expected a dictionary of items.")
        breakdown = data.get("amount_breakdown")
        if breakdown is not None:
            breakdown_total = _breakdown_total(breakdown)
            if breakdown_total is None:
                message = "Each item needs a label and an integer amount in paisa."
                fields.fail("amount_breakdown", message)
            elif amount is not None and breakdown_total != amount:
                fields.fail("amount_breakdown", "Sum of amount breakdown must be equal to amount.")
        fields.check()
        with self._lock:
            created_us = self.now_us()
            pidx = self.codec.encode(Kind.PIDX, len(self._epayments))
            self._epayments[pidx] = EPayment(pidx, amount, "Initiated", created_us, details=details)
        return {
            "pidx": pidx,
            "payment_url": PAYMENT_PAGE + pidx,
            "expires_at": iso(created_us + EPAYMENT_EXPIRES_IN * SECOND_US),
            "expires_in": EPAYMENT_EXPIRES_IN,
        }

    def lookup(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """HTTP status and body of an ePayment lookup."""
        fields = Fields(data)
        pidx = fields.text("pidx")
        fields.check()
        with self._lock:
            payment = self._epayments.get(pidx)
            if payment is None:
                raise not_found(error_key="validation_error")
            status = self._epayment_status(payment)
            txn = self._get(payment.txn_seq) if payment.txn_seq is not None else None
        body = {
            "pidx": pidx,
            "total_amount": payment.amount,
            "status": status,
            "transaction_id": self.idx(txn) if txn else payment.transaction_id,
            "fee": txn.fee if txn else 0,
            "refunded": status in ("Refunded", "Partially refunded"),
        }
        return (400 if status in ("Expired", "User canceled") else 200), body

    def _epayment_status(self, payment: EPayment) -> str:
        if payment.txn_seq is not None:
            # Once paid, refunds made through the transaction show in the lookup.
            state = self._get(payment.txn_seq).state
            if state in EPAYMENT_PAID_STATUSES:
                return state
        expiring = payment.status == "Initiated" and payment.created_us is not None
        if expiring and self.now_us() - payment.created_us > EPAYMENT_LINK_LIFETIME_US:
            return "Expired"
        return payment.status

    def _set_epayment_status(self, payment: EPayment, status: str) -> None:
        if status not in EPAYMENT_STATUSES:
            raise ValueError(
                f"unknown ePayment status {status!r}; expected one of {EPAYMENT_STATUSES}"
            )
        if status not in EPAYMENT_PAID_STATUSES:
            payment.txn_seq = None
        elif payment.txn_seq is None:
            txn = self._append(lambda seq, us: self._demo.fresh(seq, us, status, payment.amount))
            payment.txn_seq = txn.seq
        else:
            self._put(self._get(payment.txn_seq).with_state(status))
        payment.status = status

    # -- demo data ---------------------------------------------------------------------

    def _seed_demo(self) -> None:
        """Pick one recent transaction per state for the demo tokens and paid pidx."""
        by_state: dict[str, list[int]] = {state: [] for state in STATE_NAMES}
        for seq in range(self.total - 1, max(self.total - 1 - DEMO_SCAN, -1), -1):
            by_state[self._get(seq).state].append(seq)
        taken: set[int] = set()

        def claim(state: str) -> Txn | None:
            for seq in by_state[state]:
                if seq not in taken:
                    taken.add(seq)
                    return self._get(seq)
            # A small history may lack the state: force the newest spare completed payment.
            for seq in by_state["Completed"]:
                if seq not in taken:
                    taken.add(seq)
                    txn = self._get(seq).with_state(state)
                    self._put(txn)
                    return txn
            return None

        for state in STATUS_ANSWERS:
            txn = claim(state)
            if txn is not None:
                self.demo_tokens[STATUS_ANSWERS[state][0]] = (self.token(txn), txn.amount)
        for number, status in enumerate(EPAYMENT_STATUSES):
            pidx = self.codec.encode(Kind.PIDX, number)
            txn = claim(status) if status in EPAYMENT_PAID_STATUSES else None
            payment = EPayment(pidx, DEMO_EPAYMENT_AMOUNTS[number], status, None)
            if txn is not None:
                payment.amount, payment.txn_seq = txn.amount, txn.seq
            elif status in EPAYMENT_PAID_STATUSES:
                payment.transaction_id = self.codec.encode(Kind.EPAYMENT_TRANSACTION, number)
            self._epayments[pidx] = payment
            self.demo_pidx[status] = pidx


def _breakdown_total(breakdown: Any) -> int | None:
    if not isinstance(breakdown, list):
        return None
    total = 0
    for item in breakdown:
        amount = as_integer(item.get("amount")) if isinstance(item, dict) else None
        if amount is None or not item.get("label"):
            return None
        total += amount
    return total
