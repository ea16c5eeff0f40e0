"""The client against the offline Khalti sandbox, over real HTTP on loopback."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from dashboard.khalti import (
    AuthenticationError,
    KhaltiClient,
    KhaltiError,
    NotFoundError,
    ServerError,
    ValidationError,
)
from dashboard.sandbox import SandboxServer

SECRET = "test_secret_key_9d1c4e7b2a5f48e0b3c6d9f2a1e4b7c0"
WRONG_SECRET = "test_secret_key_00000000000000000000000000000000"
PUBLIC = "test_public_key_1b2c3d4e5f60718293a4b5c6d7e8f901"
NEPAL_OFFSET = timedelta(hours=5, minutes=45)
RECORDS = 260
PAGE_SIZE = 50
PAYER, MPIN, OTP = "9800000003", "1111", "987654"

# The status table of the contract: state -> (status, detail); misspellings are Khalti's.
STATUS_TABLE = {
    "Complete": (True, "Transaction complete."),
    "Initiated": (True, "Transaciton initiated."),
    "Confirmed": (True, "Transaciton not verified."),
    "Refunded": (False, "Transaciton refunded."),
    "Partially refunded": (False, "Transaction partially refunded."),
    "Failed": (False, "Transaction failed."),
}
LOOKUP_CODES = {
    "Completed": 200,
    "Pending": 200,
    "Initiated": 200,
    "Refunded": 200,
    "Partially refunded": 200,
    "Expired": 400,
    "User canceled": 400,
}


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(
        records=RECORDS, seed=11, secret_key=SECRET, public_key=PUBLIC, page_size=PAGE_SIZE
    ) as server:
        yield server


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[KhaltiClient]:
    with KhaltiClient(
        SECRET,
        base_url=sandbox.url,
        public_key=PUBLIC,
        timeout=(1, 5),
        max_retries=2,
        backoff_factor=0.01,
    ) as khalti:
        yield khalti


@pytest.fixture(autouse=True)
def key_never_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        assert SECRET[-32:] not in record.getMessage()
        assert WRONG_SECRET[-32:] not in record.getMessage()


def assert_no_secret(error: BaseException) -> None:
    texts = [str(error), repr(error), *map(str, error.args), *map(repr, error.args)]
    if isinstance(error, KhaltiError):
        texts.append(repr(error.body))
    for text in texts:
        assert SECRET[-32:] not in text
        assert WRONG_SECRET[-32:] not in text


class TamperingSession(requests.Session):
    """A session that alters each prepared request just before it goes on the wire."""

    def __init__(self, tamper) -> None:
        super().__init__()
        self._tamper = tamper

    def send(self, request: requests.PreparedRequest, **kwargs):
        return super().send(self._tamper(request), **kwargs)


def without_authorization(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """Drop the key after the client set its headers."""
    del request.headers["Authorization"]
    return request


# -- list --------------------------------------------------------------------------------


def test_one_page_is_typed(client: KhaltiClient, sandbox: SandboxServer) -> None:
    page = client.list_transactions()
    assert page.current_page == 1
    assert page.total_records == RECORDS == sandbox.total
    assert page.total_pages == math.ceil(RECORDS / PAGE_SIZE)
    assert page.record_range == (1, PAGE_SIZE)
    assert page.previous_url is None
    assert page.next_url is not None and "page=2" in page.next_url
    assert len(page.records) == PAGE_SIZE
    for record in page.records:
        assert type(record.amount) is int and record.amount > 0
        assert type(record.fee_amount) is int and record.fee_amount >= 0
        assert record.created_on.tzinfo is not None
        assert record.created_on.utcoffset() == NEPAL_OFFSET
        assert record.raw == sandbox.record(record.idx)
        assert record.amount == record.raw["amount"]
        assert record.state_name == record.raw["state"]["name"]
        assert record.type_name == record.raw["type"]["name"]
        assert record.merchant is not None and record.merchant.name
        assert (record.ebanker is None) == (record.type_name == "Wallet payment")
    assert sandbox.request_log == [("GET", "/api/v2/merchant-transaction/?page=1")]


def test_the_last_page_is_short(client: KhaltiClient) -> None:
    page = client.list_transactions(6)
    assert len(page.records) == RECORDS - 5 * PAGE_SIZE
    assert page.record_range == (251, RECORDS)
    assert page.next_url is None
    assert page.previous_url is not None


def test_iterating_returns_every_record_newest_first(
    client: KhaltiClient, sandbox: SandboxServer
) -> None:
    records = list(client.iter_transactions())
    assert len(records) == RECORDS
    assert len({r.idx for r in records}) == RECORDS
    times = [r.created_on for r in records]
    assert times == sorted(times, reverse=True)
    assert len(sandbox.request_log) == math.ceil(RECORDS / PAGE_SIZE)


def test_iterating_from_a_later_page(client: KhaltiClient) -> None:
    pages = list(client.iter_pages(start_page=5))
    assert [p.current_page for p in pages] == [5, 6]


def test_new_payments_appear_at_the_head(client: KhaltiClient, sandbox: SandboxServer) -> None:
    new = sandbox.add_payments(3, amount=123400)
    page = client.list_transactions()
    assert [r.idx for r in page.records[:3]] == new
    assert all(r.amount == 123400 for r in page.records[:3])
    assert page.total_records == RECORDS + 3


@pytest.mark.parametrize("page", [7, 100])
def test_a_page_past_the_end_is_not_found(client: KhaltiClient, page: int) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.list_transactions(page)
    assert caught.value.http_status == 404
    assert "Invalid page." in str(caught.value)


def test_a_failing_page_is_retried_then_reported(
    client: KhaltiClient, sandbox: SandboxServer
) -> None:
    sandbox.fail_pages.add(2)
    pages = client.iter_pages()
    assert next(pages).current_page == 1
    with pytest.raises(ServerError) as caught:
        next(pages)
    assert caught.value.http_status == 503
    page_two = [path for _, path in sandbox.request_log if path.endswith("page=2")]
    assert len(page_two) == 3  # the first try and max_retries=2 more


# -- detail ------------------------------------------------------------------------------


def test_detail_has_children_and_meta(client: KhaltiClient, sandbox: SandboxServer) -> None:
    listed = client.list_transactions().records
    completed = next(r for r in listed if r.state_name == "Completed")
    detail = client.transaction_detail(completed.idx)
    assert detail.transaction == completed
    assert detail.can_refund is True
    assert detail.can_complete is False
    assert detail.raw["idx"] == completed.idx
    fees = [c for c in detail.children if c.type_name == "Fee"]
    assert len(fees) == 1
    assert fees[0].idx != completed.idx
    assert fees[0].amount == completed.fee_amount
    assert fees[0].state_name == "Completed"
    metas = [client.transaction_detail(r.idx).meta for r in listed[:20]]
    assert any(m is not None and m.get("product_name") for m in metas)
    assert all(m is None or isinstance(m, dict) for m in metas)


def test_detail_of_a_confirmed_payment_can_be_completed(
    client: KhaltiClient, sandbox: SandboxServer
) -> None:
    [idx] = sandbox.add_payments(1, state="Confirmed")
    detail = client.transaction_detail(idx)
    assert (detail.can_complete, detail.can_refund) == (True, False)


def test_detail_of_an_unknown_idx_is_not_found(client: KhaltiClient) -> None:
    with pytest.raises(NotFoundError) as caught:
        client.transaction_detail("AAAAAAAAAAAAAAAAAAAAAA")
    assert caught.value.http_status == 404


# -- status ------------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(STATUS_TABLE))
def test_every_row_of_the_status_table(
    client: KhaltiClient, sandbox: SandboxServer, state: str
) -> None:
    token, amount = sandbox.demo_tokens[state]
    status = client.payment_status(token, amount)
    assert (status.state, status.status, status.detail) == (state, *STATUS_TABLE[state])
    assert status.raw["state"] == state


def test_status_error_row_for_a_wrong_token_or_amount(
    client: KhaltiClient, sandbox: SandboxServer
) -> None:
    token, amount = sandbox.demo_tokens["Complete"]
    for asked in (("BVNKCiLZhZipkMGws5hgS8", amount), (token, amount + 100)):
        status = client.payment_status(*asked)
        assert (status.state, status.status, status.detail) == (
            "Error",
            False,
            "Transaction not found",
        )


def test_status_by_transaction_idx(client: KhaltiClient) -> None:
    record = next(r for r in client.list_transactions().records if r.state_name == "Completed")
    assert client.payment_status(record.idx, record.amount).state == "Complete"


# -- checkout: initiate, confirm, verify ---------------------------------------------------


def pay(client: KhaltiClient, amount: int = 25000) -> str:
    """A customer's checkout up to the token the merchant's server verifies."""
    token = client.checkout_initiate(
        mobile=PAYER,
        transaction_pin=MPIN,
        amount=amount,
        product_identity="SKU-42",
        product_name="Dhaka topi",
        product_url="https://shop.example/topi",
        order="A-17",
    )
    confirmation = client.checkout_confirm(token=token, confirmation_code=OTP, transaction_pin=MPIN)
    assert confirmation.token == token
    assert confirmation.amount == amount
    assert confirmation.mobile == "98XXXXX003"
    assert confirmation.product_identity == "SKU-42"
    assert confirmation.product_name == "Dhaka topi"
    return token


def test_checkout_then_verify_completes_the_payment(
    client: KhaltiClient, sandbox: SandboxServer
) -> None:
    token = pay(client, 25000)
    assert client.payment_status(token, 25000).state == "Confirmed"
    newest = client.list_transactions().records[0]
    assert (newest.state_name, newest.amount) == ("Confirmed", 25000)
    detail = client.transaction_detail(newest.idx)
    assert detail.meta is not None and detail.meta["merchant_order"] == "A-17"

    verified = client.verify_payment(token, 25000)
    assert verified.state_name == "Completed"
    assert verified.amount == 25000  # the amount cross-check a merchant must make
    assert verified.idx == newest.idx
    assert verified.created_on.utcoffset() == NEPAL_OFFSET
    assert verified.user is not None and verified.user.mobile == PAYER
    assert client.payment_status(token, 25000).state == "Complete"
    assert client.list_transactions().records[0].state_name == "Completed"
    # Initiate and confirm are a customer's calls: only verify carries the secret key.
    posts = [path for method, path in sandbox.request_log if method == "POST"]
    assert posts[:2] == ["/api/v2/payment/initiate/", "/api/v2/payment/confirm/"]


def test_verifying_twice_is_refused(client: KhaltiClient) -> None:
    token = pay(client)
    client.verify_payment(token, 25000)
    with pytest.raises(ValidationError) as caught:
        client.verify_payment(token, 25000)
    assert str(caught.value) == "Khalti refused the request: Transaction already verified."


def test_verify_with_the_wrong_amount_is_refused(client: KhaltiClient) -> None:
    token = pay(client, 25000)
    with pytest.raises(ValidationError) as caught:
        client.verify_payment(token, 2500)
    assert "amount" in caught.value.field_errors
    assert str(caught.value).startswith("Khalti refused the request: amount: ")
    assert client.payment_status(token, 25000).state == "Confirmed"


def test_verify_with_an_invalid_token(client: KhaltiClient) -> None:
    with pytest.raises(ValidationError) as caught:
        client.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000)
    assert str(caught.value) == "Khalti refused the request: token: Invalid token."
    assert caught.value.field_errors == {"token": ["Invalid token."]}
    assert caught.value.http_status == 400
    assert_no_secret(caught.value)


@pytest.mark.parametrize("amount", [0, -100, 10.5, "1000", True])
def test_verify_with_a_bad_amount_is_not_sent(
    client: KhaltiClient, sandbox: SandboxServer, amount: Any
) -> None:
    with pytest.raises(ValueError, match="positive whole number of paisa"):
        client.verify_payment("BVNKCiLZhZipkMGws5hgS8", amount)
    assert sandbox.request_log == []


def test_verify_of_a_failed_payment(client: KhaltiClient, sandbox: SandboxServer) -> None:
    token, amount = sandbox.demo_tokens["Failed"]
    with pytest.raises(ValidationError, match=r"Transaction failed\."):
        client.verify_payment(token, amount)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"mobile": "9841000000"}, "mobile"),
        ({"transaction_pin": "0000"}, "transaction_pin"),
        ({"amount": 999}, "amount"),
        ({"public_key": "test_public_key_ffffffffffffffffffffffffffffffff"}, "public_key"),
    ],
)
def test_checkout_initiate_validation(
    client: KhaltiClient, changes: dict[str, Any], field: str
) -> None:
    request = {
        "mobile": PAYER,
        "transaction_pin": MPIN,
        "amount": 1000,
        "product_identity": "SKU-1",
        "product_name": "Tea",
        **changes,
    }
    with pytest.raises(ValidationError) as caught:
        client.checkout_initiate(**request)
    assert list(caught.value.field_errors) == [field]


def test_checkout_confirm_with_a_wrong_otp(client: KhaltiClient) -> None:
    token = client.checkout_initiate(
        mobile=PAYER, transaction_pin=MPIN, amount=1000, product_identity="p", product_name="n"
    )
    with pytest.raises(ValidationError) as caught:
        client.checkout_confirm(token=token, confirmation_code="111111", transaction_pin=MPIN)
    assert caught.value.field_errors == {"confirmation_code": ["Invalid confirmation code."]}
    assert client.payment_status(token, 1000).state == "Initiated"


# -- refund ------------------------------------------------------------------------------


def test_partial_then_full_refund(client: KhaltiClient, sandbox: SandboxServer) -> None:
    token = pay(client, 50000)
    idx = client.verify_payment(token, 50000).idx

    result = client.refund(idx, amount=20000)
    assert result.detail == "Transaction refund successful."
    assert result.raw == {"detail": "Transaction refund successful."}
    detail = client.transaction_detail(idx)
    assert detail.transaction.state_name == "Partially refunded"
    assert detail.can_refund is True
    assert client.payment_status(token, 50000).state == "Partially refunded"

    with pytest.raises(ValidationError) as caught:
        client.refund(idx, amount=30001)
    assert list(caught.value.field_errors) == ["amount"]

    client.refund(idx)  # the rest
    detail = client.transaction_detail(idx)
    assert detail.transaction.state_name == "Refunded"
    assert detail.transaction.refunded is True
    assert detail.can_refund is False
    assert client.payment_status(token, 50000).state == "Refunded"
    assert sandbox.record(idx)["state"]["name"] == "Refunded"

    with pytest.raises(ValidationError, match="already refunded"):
        client.refund(idx)


def test_refund_of_a_bank_payment_needs_a_mobile(client: KhaltiClient) -> None:
    bank = next(
        r
        for r in client.iter_transactions()
        if r.ebanker is not None and r.state_name == "Completed"
    )
    with pytest.raises(ValidationError) as caught:
        client.refund(bank.idx)
    assert "mobile" in caught.value.field_errors
    client.refund(bank.idx, mobile=PAYER)
    assert client.transaction_detail(bank.idx).transaction.state_name == "Refunded"


def test_refund_of_an_unknown_idx(client: KhaltiClient) -> None:
    with pytest.raises(NotFoundError):
        client.refund("AAAAAAAAAAAAAAAAAAAAAA", amount=1000)


# -- ePayment ----------------------------------------------------------------------------

EPAYMENT = {
    "amount": 130000,
    "purchase_order_id": "ORDER-9",
    "purchase_order_name": "Pashmina shawl",
    "return_url": "https://shop.example/khalti/return",
    "website_url": "https://shop.example",
}


def test_epayment_initiate_and_lookup(client: KhaltiClient, sandbox: SandboxServer) -> None:
    started = datetime.now(UTC)
    started = started.replace(microsecond=0)
    initiation = client.epayment_initiate(
        **EPAYMENT,
        customer_info={"name": "Sita Sharma", "phone": "9800000001"},
        amount_breakdown=[{"label": "Shawl", "amount": 120000}, {"label": "VAT", "amount": 10000}],
        product_details=[{"identity": "P-1", "name": "Shawl", "total_price": 130000}],
        source="web",
    )
    assert initiation.pidx in initiation.payment_url
    assert initiation.expires_in == 1800
    assert initiation.expires_at is not None
    assert initiation.expires_at.utcoffset() == NEPAL_OFFSET
    assert initiation.expires_at >= started + timedelta(minutes=29)

    result = client.epayment_lookup(initiation.pidx)
    assert (result.status, result.http_status, result.is_completed) == ("Initiated", 200, False)
    assert result.total_amount == 130000

    sandbox.advance(timedelta(minutes=61))
    expired = client.epayment_lookup(initiation.pidx)
    assert (expired.status, expired.http_status, expired.is_completed) == ("Expired", 400, False)


def test_a_paid_epayment_is_completed(client: KhaltiClient, sandbox: SandboxServer) -> None:
    pidx = client.epayment_initiate(**EPAYMENT).pidx
    sandbox.set_state(pidx, "Completed")
    result = client.epayment_lookup(pidx)
    assert result.is_completed
    assert result.transaction_id
    assert client.transaction_detail(result.transaction_id).transaction.amount == 130000


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount": 999}, "amount", "Amount should be greater than Rs. 10, that is 1000 paisa."),
        ({"return_url": "not a url"}, "return_url", "Enter a valid URL."),
        ({"purchase_order_id": ""}, "purchase_order_id", "This field may not be blank."),
        (
            {"amount_breakdown": [{"label": "Shawl", "amount": 1000}]},
            "amount_breakdown",
            "Sum of amount breakdown must be equal to amount.",
        ),
    ],
)
def test_epayment_initiate_validation(
    client: KhaltiClient, changes: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        client.epayment_initiate(**{**EPAYMENT, **changes})
    assert caught.value.field_errors == {field: [message]}
    assert str(caught.value) == f"Khalti refused the request: {field}: {message}"
    assert "error_key" not in str(caught.value)


@pytest.mark.parametrize("status", list(LOOKUP_CODES))
def test_lookup_of_every_status(client: KhaltiClient, sandbox: SandboxServer, status: str) -> None:
    result = client.epayment_lookup(sandbox.demo_pidx[status])
    assert result.status == status
    assert result.http_status == LOOKUP_CODES[status]
    assert result.is_completed is (status == "Completed")
    assert result.refunded is (status in ("Refunded", "Partially refunded"))
    assert type(result.total_amount) is int


def test_lookup_of_an_unknown_pidx(client: KhaltiClient) -> None:
    with pytest.raises(NotFoundError, match="no ePayment with this pidx"):
        client.epayment_lookup("bZQLD9wRVWo4CdESSfuSsB")


# -- authentication and malformed requests -----------------------------------------------


def test_a_wrong_key_is_an_authentication_error(sandbox: SandboxServer) -> None:
    with KhaltiClient(WRONG_SECRET, base_url=sandbox.url, max_retries=0) as wrong:
        with pytest.raises(AuthenticationError) as caught:
            wrong.list_transactions()
        assert WRONG_SECRET not in repr(wrong)
    error = caught.value
    assert error.http_status == 401
    assert error.body == {"detail": "Invalid token.", "status_code": 401}
    assert "(Invalid token.)" in str(error)
    assert "Check the key configured for this mode" in str(error)
    assert_no_secret(error)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.list_transactions(),
        lambda c: c.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000),
        lambda c: c.refund("AAAAAAAAAAAAAAAAAAAAAA"),
        lambda c: c.epayment_lookup("bZQLD9wRVWo4CdESSfuSsB"),
        lambda c: c.epayment_initiate(**EPAYMENT),
    ],
)
def test_every_secret_call_sends_the_key(sandbox: SandboxServer, call: Any) -> None:
    wrong = KhaltiClient(WRONG_SECRET, base_url=sandbox.url, max_retries=0)
    with wrong, pytest.raises(AuthenticationError) as caught:
        call(wrong)
    assert_no_secret(caught.value)


def test_a_missing_header_is_reported(sandbox: SandboxServer) -> None:
    answer = requests.get(sandbox.url + "/api/v2/merchant-transaction/", timeout=5)
    assert answer.status_code == 401
    assert answer.json() == {
        "detail": "Authentication credentials were not provided.",
        "status_code": 401,
    }
    # The same answer through the client's own parsing, from a session that loses the header.
    with TamperingSession(without_authorization) as session:
        khalti = KhaltiClient(SECRET, base_url=sandbox.url, session=session, timeout=5)
        with pytest.raises(AuthenticationError) as caught:
            khalti.list_transactions()
    assert "Authentication credentials were not provided." in str(caught.value)
    assert_no_secret(caught.value)


def test_a_bearer_header_is_not_a_key_header(sandbox: SandboxServer) -> None:
    answer = requests.get(
        sandbox.url + "/api/v2/merchant-transaction/",
        headers={"Authorization": f"Bearer {SECRET}"},
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["detail"] == "Authentication credentials were not provided."


def test_a_lower_case_key_scheme_is_accepted(sandbox: SandboxServer) -> None:
    # The ePayment docs write "key"; the scheme is case-insensitive.
    answer = requests.get(
        sandbox.url + "/api/v2/merchant-transaction/",
        headers={"Authorization": f"key {SECRET}"},
        timeout=5,
    )
    assert answer.status_code == 200


def test_a_body_that_is_not_json_is_a_validation_error(sandbox: SandboxServer) -> None:
    def corrupt(request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.body = b'{"token": '
        request.headers["Content-Length"] = str(len(request.body))
        return request

    with TamperingSession(corrupt) as session:
        khalti = KhaltiClient(SECRET, base_url=sandbox.url, session=session, timeout=5)
        with pytest.raises(ValidationError) as caught:
            khalti.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000)
    assert caught.value.http_status == 400
    assert str(caught.value).startswith("Khalti refused the request: JSON parse error - ")


def test_verify_accepts_a_form_encoded_body(sandbox: SandboxServer) -> None:
    # Khalti documents verify as form-encoded or JSON; the sandbox must honour both.
    token, amount = sandbox.demo_tokens["Confirmed"]
    answer = requests.post(
        sandbox.url + "/api/v2/payment/verify/",
        data={"token": token, "amount": str(amount)},
        headers={"Authorization": f"Key {SECRET}"},
        timeout=5,
    )
    assert answer.status_code == 200
    assert answer.json()["state"]["name"] == "Completed"


# -- the key never shows -----------------------------------------------------------------


def test_the_key_never_shows(
    client: KhaltiClient, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert SECRET not in repr(client)
    assert SECRET not in str(client)
    assert client.key_mode == "test"
    errors: list[KhaltiError] = []
    calls = [
        lambda: client.list_transactions(99),
        lambda: client.transaction_detail("AAAAAAAAAAAAAAAAAAAAAA"),
        lambda: client.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000),
        lambda: client.refund("AAAAAAAAAAAAAAAAAAAAAA"),
        lambda: client.epayment_lookup("bZQLD9wRVWo4CdESSfuSsB"),
        lambda: client.epayment_initiate(**{**EPAYMENT, "amount": 5}),
    ]
    for call in calls:
        with pytest.raises(KhaltiError) as caught:
            call()
        errors.append(caught.value)
    for error in errors:
        assert_no_secret(error)
    client.list_transactions()
    # The log check in the autouse fixture is only worth something if urllib3 did log.
    assert any(r.name.startswith("urllib3") for r in caplog.records)
    assert any(r.name == "dashboard.khalti.client" for r in caplog.records)
    log_text = json.dumps([r.getMessage() for r in caplog.records])
    assert SECRET[-32:] not in log_text
