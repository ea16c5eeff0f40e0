"""The one place that speaks HTTP to Khalti.

Reads are retried with exponential backoff (and Khalti's Retry-After) by urllib3's
Retry; verify and refund move money, so they are retried only when the connection
could not even be opened, i.e. when nothing can have reached Khalti.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import BaseHTTPResponse
from urllib3.exceptions import ConnectTimeoutError, InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

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
from dashboard.khalti.keys import SecretKey, check_base_url
from dashboard.khalti.models import (
    CheckoutConfirmation,
    EpaymentInitiation,
    LookupResult,
    PaymentStatus,
    RefundResult,
    Transaction,
    TransactionDetail,
    TransactionPage,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = (429, 500, 502, 503, 504)
LOOKUP_PATH = "/api/v2/epayment/lookup/"
# Keys in Khalti's error bodies that are bookkeeping, not something to tell a person.
_NOT_MESSAGES = {"error_key", "status_code"}


def _field_errors(body: Any) -> dict[str, list[str]]:
    if not isinstance(body, Mapping):
        return {}
    errors: dict[str, list[str]] = {}
    for key, value in body.items():
        if key in _NOT_MESSAGES:
            continue
        items = value if isinstance(value, list) else [value]
        errors[str(key)] = [str(item) for item in items]
    return errors


def _sentence(errors: Mapping[str, list[str]]) -> str:
    """{"amount": ["A valid integer is required."]} -> "amount: A valid integer is required." """
    parts = []
    for key, messages in errors.items():
        text = " ".join(messages)
        parts.append(text if key in {"detail", "non_field_errors"} else f"{key}: {text}")
    return "; ".join(parts)


class _Retry(Retry):
    """urllib3's Retry, except that a malformed Retry-After falls back to the backoff.

    urllib3 raises InvalidHeader for "1.5" or "soon", which requests reports as a failed
    connection: a plain 503 would then read as "Khalti did not answer".
    """

    def get_retry_after(self, response: BaseHTTPResponse) -> float | None:
        try:
            return super().get_retry_after(response)
        except InvalidHeader:
            return None


class _KeyAuth(requests.auth.AuthBase):
    """Khalti's `Authorization: Key …` header, set as requests auth.

    Passing an auth object also stops requests from filling in credentials from a
    ~/.netrc entry, which would replace the header or send other secrets to Khalti.
    """

    def __init__(self, key: SecretKey | None) -> None:
        self._key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._key is not None:
            request.headers["Authorization"] = f"Key {self._key.reveal()}"
        return request


def _was_never_sent(exc: requests.RequestException) -> bool:
    """True when the connection could not be opened, so the request cannot have arrived."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, ConnectTimeoutError)  # NewConnectionError is a subclass


class KhaltiClient:
    """Client for Khalti's merchant API, bound to one mode (a base URL and its secret key)."""

    def __init__(
        self,
        secret_key: SecretKey | str,
        *,
        base_url: str,
        public_key: str | None = None,
        session: requests.Session | None = None,
        timeout: float | tuple[float, float] = (3.05, 20.0),
        max_retries: int = 3,
        backoff_factor: float = 0.5,
        max_retry_after: float = 30.0,
    ) -> None:
        self._key = secret_key if isinstance(secret_key, SecretKey) else SecretKey(secret_key)
        self.base_url = check_base_url(base_url)
        self.public_key = public_key
        self.timeout = timeout
        self.max_retries = max_retries
        self._session = session or self._new_session(max_retries, backoff_factor, max_retry_after)

    def _new_session(
        self, retries: int, backoff: float, retry_after_max: float
    ) -> requests.Session:
        def policy(methods: frozenset[str]) -> Retry:
            return _Retry(
                total=retries,
                connect=retries,
                read=retries,
                status=retries,
                other=0,
                redirect=0,
                allowed_methods=methods,
                status_forcelist=RETRY_STATUSES,
                backoff_factor=backoff,
                retry_after_max=retry_after_max,
                respect_retry_after_header=True,
                raise_on_status=False,
            )

        session = requests.Session()
        # Connection failures are retried for every method (nothing was sent); read
        # errors and 429/5xx only for reads. Lookup is a POST but reads nothing but state.
        session.mount(self.base_url + "/", HTTPAdapter(max_retries=policy(frozenset({"GET"}))))
        lookup = HTTPAdapter(max_retries=policy(frozenset({"GET", "POST"})))
        session.mount(self.base_url + LOOKUP_PATH, lookup)
        return session

    def __repr__(self) -> str:
        return f"KhaltiClient(base_url={self.base_url!r}, key={self._key.masked})"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> KhaltiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def key_mode(self) -> str:
        """ "test" or "live", as the key's own prefix says."""
        return self._key.prefix

    # -- transport ----------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        moves_money: bool = False,
        authenticated: bool = True,
        accept_statuses: frozenset[int] = frozenset(),
    ) -> tuple[int, Any]:
        url = self.base_url + path
        headers = {"Accept": "application/json"}
        started = time.monotonic()
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                json=json,
                headers=headers,
                auth=_KeyAuth(self._key if authenticated else None),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            never_sent = _was_never_sent(exc)
            log.warning("%s %s failed: %s", method, path, type(exc).__name__)
            if moves_money and not never_sent:
                raise OutcomeUnknownError(
                    "The request was sent to Khalti but no answer came back, so it may or "
                    "may not have gone through. Check the payment's status before trying again."
                ) from None
            what = "could not be reached" if never_sent else "did not answer in time"
            raise KhaltiConnectionError(
                f"Khalti {what} ({self.base_url}). Check the internet connection and try again.",
                may_have_reached_server=not never_sent,
            ) from None
        elapsed_ms = (time.monotonic() - started) * 1000
        log.info("%s %s -> %s in %.0f ms", method, path, response.status_code, elapsed_ms)
        return self._answer(response, accept_statuses, moves_money=moves_money)

    def _answer(
        self, response: requests.Response, accept: frozenset[int], *, moves_money: bool = False
    ) -> tuple[int, Any]:
        status = response.status_code
        request_id = response.headers.get("X-Request-Id")
        try:
            body = response.json()
        except ValueError:
            body = None
        if 200 <= status < 300 or status in accept:
            if body is None:
                raise UnexpectedResponseError(
                    f"Khalti answered {status} but not with JSON.",
                    http_status=status,
                    request_id=request_id,
                )
            return status, body
        errors = _field_errors(body)
        detail = _sentence(errors) or (response.reason or "no details")
        common: dict[str, Any] = {"http_status": status, "body": body, "request_id": request_id}
        if status == 400:
            raise ValidationError(
                f"Khalti refused the request: {detail}", field_errors=errors, **common
            )
        if status in (401, 403):
            raise AuthenticationError(
                f"Khalti did not accept the secret key for {self.base_url} ({detail}). "
                "Check the key configured for this mode.",
                **common,
            )
        if status == 404:
            raise NotFoundError(f"Khalti has no such record ({detail}).", **common)
        if status == 429:
            wait = response.headers.get("Retry-After", "").strip()
            retry_after = float(wait) if wait.isdigit() else None
            raise RateLimitError(
                "Khalti is limiting how fast we may ask. Wait a minute and try again.",
                retry_after=retry_after,
                **common,
            )
        if status >= 500 and moves_money:
            # A gateway's 502/504, or a crash after the write, does not say the money did
            # not move; calling it a plain failure would invite sending it a second time.
            raise OutcomeUnknownError(
                f"Khalti answered with an error (HTTP {status}) after receiving the request, so "
                "it may or may not have gone through. Check the payment's status before "
                "trying again.",
                **common,
            )
        if status >= 500:
            raise ServerError(
                f"Khalti is having trouble (HTTP {status}). Try again later.", **common
            )
        if 300 <= status < 400:
            raise UnexpectedResponseError(
                f"Khalti answered with a redirect (HTTP {status}); the base URL may be wrong.",
                **common,
            )
        raise KhaltiError(f"Khalti answered HTTP {status}: {detail}", **common)

    # -- transactions ---------------------------------------------------------------

    def list_transactions(self, page: int = 1) -> TransactionPage:
        """One page of the merchant's transactions, newest first."""
        _, body = self._request("GET", "/api/v2/merchant-transaction/", params={"page": page})
        return TransactionPage.from_api(body)

    def iter_pages(self, start_page: int = 1) -> Iterator[TransactionPage]:
        page_number = start_page
        while True:
            page = self.list_transactions(page_number)
            yield page
            if not page.next_url or page_number >= page.total_pages:
                return
            page_number += 1

    def iter_transactions(self, start_page: int = 1) -> Iterator[Transaction]:
        for page in self.iter_pages(start_page):
            yield from page.records

    def transaction_detail(self, idx: str) -> TransactionDetail:
        _, body = self._request("GET", f"/api/v2/merchant-transaction/{_segment(idx)}/")
        return TransactionDetail.from_api(body)

    # -- checkout (token) payments ---------------------------------------------------

    def payment_status(self, token: str, amount: int) -> PaymentStatus:
        """Read-only status of a checkout token (or transaction idx) for an amount."""
        params = {"token": token, "amount": _positive_paisa(amount)}
        _, body = self._request("GET", "/api/v2/payment/status/", params=params)
        return PaymentStatus.from_api(body)

    def verify_payment(self, token: str, amount: int) -> Transaction:
        """Verify a confirmed checkout payment. Moves money; never retried once sent."""
        body = {"token": token, "amount": _positive_paisa(amount)}
        _, answer = self._request("POST", "/api/v2/payment/verify/", json=body, moves_money=True)
        return Transaction.from_api(answer, "verify")

    def refund(
        self, idx: str, *, amount: int | None = None, mobile: str | None = None
    ) -> RefundResult:
        """Refund a transaction, in full or (with amount) in part. Moves money."""
        body: dict[str, Any] = {}
        if amount is not None:
            body["amount"] = _positive_paisa(amount)
        if mobile:
            body["mobile"] = mobile
        path = f"/api/merchant-transaction/{_segment(idx)}/refund/"
        status, answer = self._request("POST", path, json=body, moves_money=True)
        if not isinstance(answer, Mapping):
            raise UnexpectedResponseError(
                "Khalti accepted the refund request but its answer is not a JSON object; "
                "check the transaction's state before refunding again.",
                http_status=status,
                body=answer,
            )
        return RefundResult(detail=str(answer.get("detail", "")), raw=answer)

    def checkout_initiate(
        self,
        *,
        mobile: str,
        transaction_pin: str,
        amount: int,
        product_identity: str,
        product_name: str,
        product_url: str | None = None,
        public_key: str | None = None,
        **merchant_extras: str,
    ) -> str:
        """Start a checkout payment as a customer's app would; returns the token."""
        body: dict[str, Any] = {
            "public_key": public_key or self._require_public_key(),
            "mobile": mobile,
            "transaction_pin": transaction_pin,
            "amount": _positive_paisa(amount),
            "product_identity": product_identity,
            "product_name": product_name,
        }
        if product_url:
            body["product_url"] = product_url
        body.update(
            {
                k if k.startswith("merchant_") else f"merchant_{k}": v
                for k, v in merchant_extras.items()
            }
        )
        _, answer = self._request(
            "POST", "/api/v2/payment/initiate/", json=body, authenticated=False
        )
        token = answer.get("token") if isinstance(answer, Mapping) else None
        if not token:
            raise UnexpectedResponseError("Khalti's checkout initiate answer has no token.")
        return str(token)

    def checkout_confirm(
        self,
        *,
        token: str,
        confirmation_code: str,
        transaction_pin: str,
        public_key: str | None = None,
    ) -> CheckoutConfirmation:
        body = {
            "public_key": public_key or self._require_public_key(),
            "token": token,
            "confirmation_code": confirmation_code,
            "transaction_pin": transaction_pin,
        }
        _, answer = self._request(
            "POST", "/api/v2/payment/confirm/", json=body, authenticated=False
        )
        return CheckoutConfirmation.from_api(answer)

    def _require_public_key(self) -> str:
        if not self.public_key:
            raise ValueError("checkout initiate/confirm need the merchant's public key")
        return self.public_key

    # -- ePayment (KPG-2) -------------------------------------------------------------

    def epayment_initiate(
        self,
        *,
        amount: int,
        purchase_order_id: str,
        purchase_order_name: str,
        return_url: str,
        website_url: str,
        customer_info: Mapping[str, str] | None = None,
        amount_breakdown: list[Mapping[str, Any]] | None = None,
        product_details: list[Mapping[str, Any]] | None = None,
        **merchant_extras: Any,
    ) -> EpaymentInitiation:
        body: dict[str, Any] = {
            "return_url": return_url,
            "website_url": website_url,
            "amount": _positive_paisa(amount),
            "purchase_order_id": purchase_order_id,
            "purchase_order_name": purchase_order_name,
        }
        optional = {
            "customer_info": customer_info,
            "amount_breakdown": amount_breakdown,
            "product_details": product_details,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        body.update(
            {
                k if k.startswith("merchant_") else f"merchant_{k}": v
                for k, v in merchant_extras.items()
            }
        )
        _, answer = self._request("POST", "/api/v2/epayment/initiate/", json=body)
        return EpaymentInitiation.from_api(answer)

    def epayment_lookup(self, pidx: str) -> LookupResult:
        """Lookup a pidx. Expired and User canceled come back as 400 with a normal body."""
        try:
            status, body = self._request(
                "POST", LOOKUP_PATH, json={"pidx": pidx}, accept_statuses=frozenset({400})
            )
        except NotFoundError as exc:
            raise NotFoundError(
                "Khalti has no ePayment with this pidx.", http_status=exc.http_status, body=exc.body
            ) from None
        if status == 400 and not (
            isinstance(body, Mapping) and "status" in body and "pidx" in body
        ):
            errors = _field_errors(body)
            # The contract leaves the code of an unknown pidx open; a 400 "Not found." is it.
            if any("not found" in text.lower() for text in errors.get("detail", [])):
                raise NotFoundError(
                    "Khalti has no ePayment with this pidx.", http_status=status, body=body
                )
            raise ValidationError(
                f"Khalti refused the lookup: {_sentence(errors) or 'no details'}",
                field_errors=errors,
                http_status=status,
                body=body,
            )
        return LookupResult.from_api(body, http_status=status)


def _positive_paisa(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError("amount must be a positive whole number of paisa")
    return amount


def _segment(idx: str) -> str:
    """A transaction idx as one URL path segment; refuses anything that could change the path."""
    text = (idx or "").strip()
    if not text or not text.isalnum():
        raise ValueError("a transaction idx is letters and digits only")
    return text
