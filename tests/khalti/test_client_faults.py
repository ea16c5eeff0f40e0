"""The client against small real HTTP servers that misbehave on purpose.

Nothing is mocked: every case is a real TCP connection on loopback, so the retry policy,
timeouts and error mapping are exercised exactly as urllib3 and requests run them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
import requests

from dashboard.khalti import (
    AuthenticationError,
    KhaltiClient,
    KhaltiConnectionError,
    KhaltiError,
    NotFoundError,
    OutcomeUnknownError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    ValidationError,
)
from tests.khalti.scripted import HANG, RESET, Reply, ScriptedServer, closed_port, json_reply

SECRET = "test_secret_key_5f2b9c0e7d4a41b8a6c3e1f09d8b7a65"
PUBLIC = "test_public_key_0a1b2c3d4e5f60718293a4b5c6d7e8f9"
MAX_RETRIES = 2
READ_TIMEOUT = 0.3
BACKOFF = 0.1

RECORD: dict[str, Any] = {
    "idx": "8xmeJnNXfoVjCvGcZiiGe7",
    "type": {"idx": "e476BL6jt9kgagEmsakyTL", "name": "Wallet payment"},
    "state": {"idx": "DhvMj9hdRufLqkP8ZY4d8g", "name": "Completed", "template": "is complete"},
    "amount": 1000,
    "fee_amount": 30,
    "refunded": False,
    "created_on": "2018-06-20T14:48:08.867125+05:45",
    "ebanker": None,
    "user": {"idx": "cCaPkRPQGn5D8StkiqqMJg", "name": "Test User", "mobile": "98XXXXXXX9"},
    "merchant": {"idx": "UM75Gm2gWmZvA4TPwkwZye", "name": "Test Merchant", "mobile": "m"},
}
OK_PAGE = json_reply(
    200,
    {
        "total_pages": 1,
        "total_records": 1,
        "next": None,
        "previous": None,
        "record_range": [1, 1],
        "current_page": 1,
        "records": [RECORD],
    },
)
LOOKUP = {
    "pidx": "bZQLD9wRVWo4CdESSfuSsB",
    "total_amount": 1000,
    "status": "Completed",
    "transaction_id": "GFq9PFS7b2iYvL8Lir9oXe",
    "fee": 0,
    "refunded": False,
}
SERVER_ERROR = json_reply(503, {"detail": "Service unavailable."})
BAD_GATEWAY = Reply(status=502, raw=b"<html>Bad gateway</html>", content_type="text/html")


def page_with(**changes: Any) -> Reply:
    record = {**RECORD, **changes}
    return json_reply(200, {**OK_PAGE.body, "records": [record]})


def make_client(url: str, **options: Any) -> KhaltiClient:
    settings: dict[str, Any] = {
        "timeout": (0.5, READ_TIMEOUT),
        "max_retries": MAX_RETRIES,
        "backoff_factor": BACKOFF,
        "max_retry_after": 2,
        "public_key": PUBLIC,
    }
    return KhaltiClient(SECRET, base_url=url, **{**settings, **options})


Serve = Callable[..., tuple[ScriptedServer, KhaltiClient]]


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start a scripted server and a client for it; both are closed after the test."""
    with ExitStack() as stack:

        def start(script: list[Reply], **options: Any) -> tuple[ScriptedServer, KhaltiClient]:
            server = stack.enter_context(ScriptedServer(script))
            return server, stack.enter_context(make_client(server.url, **options))

        yield start


@pytest.fixture(autouse=True)
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test also proves that nothing it logged, at any level, holds the key."""
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET[-32:] not in record.getMessage()


def assert_no_secret(error: BaseException) -> None:
    for text in (str(error), repr(error), *map(str, error.args), *map(repr, error.args)):
        assert SECRET[-32:] not in text
    if isinstance(error, KhaltiError):
        assert SECRET[-32:] not in repr(error.body)


# -- retries of reads ----------------------------------------------------------------------


def test_429_with_retry_after_is_waited_out_then_retried(serve: Serve) -> None:
    script = [json_reply(429, {"detail": "Request was throttled."}, Retry_After="1"), OK_PAGE]
    server, client = serve(script)
    started = time.monotonic()
    page = client.list_transactions()
    elapsed = time.monotonic() - started
    assert page.records[0].idx == RECORD["idx"]
    assert len(server.seen) == 2
    assert server.gaps()[0] >= 0.95
    assert elapsed >= 0.95


def test_503_is_retried_with_growing_backoff(serve: Serve) -> None:
    server, client = serve([SERVER_ERROR, SERVER_ERROR, OK_PAGE])
    page = client.list_transactions(1)
    assert page.total_records == 1
    assert len(server.seen) == 3
    assert all(seen.path == "/api/v2/merchant-transaction/?page=1" for seen in server.seen)
    # urllib3 retries the first failure at once, then waits backoff_factor * 2 ** (n - 1).
    assert server.gaps()[1] >= 2 * BACKOFF * 0.9


def test_a_server_that_keeps_failing_gives_server_error_after_all_retries(serve: Serve) -> None:
    server, client = serve([SERVER_ERROR])
    with pytest.raises(ServerError) as caught:
        client.list_transactions()
    assert len(server.seen) == MAX_RETRIES + 1
    assert caught.value.http_status == 503
    assert caught.value.body == {"detail": "Service unavailable."}
    assert "Khalti is having trouble (HTTP 503)" in str(caught.value)
    assert_no_secret(caught.value)


def test_a_502_html_page_from_a_proxy_is_a_server_error(serve: Serve) -> None:
    server, client = serve([BAD_GATEWAY])
    with pytest.raises(ServerError) as caught:
        client.transaction_detail(RECORD["idx"])
    assert caught.value.http_status == 502
    assert caught.value.body is None
    assert len(server.seen) == MAX_RETRIES + 1


def test_rate_limit_after_all_retries_carries_the_requested_wait(serve: Serve) -> None:
    throttled = json_reply(429, {"detail": "Request was throttled."}, Retry_After="1")
    server, client = serve([throttled], max_retries=1)
    with pytest.raises(RateLimitError) as caught:
        client.list_transactions()
    assert len(server.seen) == 2
    assert caught.value.retry_after == 1.0
    assert caught.value.http_status == 429
    assert "Wait a minute" in str(caught.value)


def test_rate_limit_without_retry_after(serve: Serve) -> None:
    server, client = serve([json_reply(429, {"detail": "Slow down."})])
    with pytest.raises(RateLimitError) as caught:
        client.list_transactions()
    assert caught.value.retry_after is None
    assert len(server.seen) == MAX_RETRIES + 1


def test_a_huge_retry_after_is_capped(serve: Serve) -> None:
    script = [json_reply(429, {"detail": "Throttled."}, Retry_After="3600"), OK_PAGE]
    server, client = serve(script, max_retry_after=1)
    started = time.monotonic()
    client.list_transactions()
    elapsed = time.monotonic() - started
    assert len(server.seen) == 2
    assert 0.95 <= elapsed < 10  # far below the 3600 s asked for


@pytest.mark.parametrize("wait", ["1.5", "soon", "-1"])
def test_a_malformed_retry_after_falls_back_to_backoff(wait: str, serve: Serve) -> None:
    # urllib3 rejects these headers; that must not turn a 503 into "did not answer".
    server, client = serve([json_reply(503, {"detail": "Busy."}, Retry_After=wait), OK_PAGE])
    assert client.list_transactions().total_records == 1
    assert len(server.seen) == 2


def test_a_malformed_retry_after_on_a_lasting_503_is_a_server_error(serve: Serve) -> None:
    server, client = serve([json_reply(503, {"detail": "Busy."}, Retry_After="later")])
    with pytest.raises(ServerError):
        client.list_transactions()
    assert len(server.seen) == MAX_RETRIES + 1


def test_max_retries_zero_means_one_attempt(serve: Serve) -> None:
    server, client = serve([SERVER_ERROR, OK_PAGE], max_retries=0)
    with pytest.raises(ServerError):
        client.list_transactions()
    assert len(server.seen) == 1


# -- dropped connections and timeouts --------------------------------------------------------


def test_a_reset_connection_is_retried_for_a_read(serve: Serve) -> None:
    server, client = serve([RESET, OK_PAGE])
    page = client.list_transactions()
    assert page.total_records == 1
    assert len(server.seen) == 2


def test_a_reset_connection_on_verify_is_not_retried(serve: Serve) -> None:
    server, client = serve([RESET, json_reply(200, RECORD)])
    with pytest.raises(OutcomeUnknownError) as caught:
        client.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000)
    assert len(server.seen) == 1
    assert server.seen[0].method == "POST"
    assert caught.value.may_have_reached_server is True
    assert "may or may not have gone through" in str(caught.value)
    assert_no_secret(caught.value)


def test_a_reset_connection_on_refund_is_not_retried(serve: Serve) -> None:
    server, client = serve([RESET, json_reply(200, {"detail": "ok"})])
    with pytest.raises(OutcomeUnknownError):
        client.refund(RECORD["idx"], amount=500)
    assert len(server.seen) == 1


def test_a_reset_connection_on_lookup_is_retried(serve: Serve) -> None:
    # Lookup is a POST, but it only reads, so sending it twice is harmless.
    server, client = serve([RESET, json_reply(200, LOOKUP)])
    result = client.epayment_lookup(LOOKUP["pidx"])
    assert result.is_completed
    assert len(server.seen) == 2


def test_a_reset_connection_on_epayment_initiate_is_reported_once(serve: Serve) -> None:
    server, client = serve([RESET])
    with pytest.raises(KhaltiConnectionError) as caught:
        client.epayment_initiate(
            amount=1000,
            purchase_order_id="o-1",
            purchase_order_name="Tea",
            return_url="https://shop.example/return",
            website_url="https://shop.example",
        )
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert caught.value.may_have_reached_server is True
    assert len(server.seen) == 1


def test_a_hanging_server_times_out_a_read_after_retries(serve: Serve) -> None:
    server, client = serve([HANG])
    started = time.monotonic()
    with pytest.raises(KhaltiConnectionError) as caught:
        client.list_transactions()
    elapsed = time.monotonic() - started
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert caught.value.may_have_reached_server is True
    assert "did not answer in time" in str(caught.value)
    assert len(server.seen) == MAX_RETRIES + 1
    assert elapsed < 5
    assert_no_secret(caught.value)


def test_a_hanging_server_on_verify_gives_outcome_unknown_after_one_request(serve: Serve) -> None:
    server, client = serve([HANG])
    with pytest.raises(OutcomeUnknownError) as caught:
        client.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000)
    assert len(server.seen) == 1
    assert caught.value.may_have_reached_server is True


def test_connection_refused_on_verify_is_known_not_to_have_arrived() -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    with make_client(url) as client, pytest.raises(KhaltiConnectionError) as caught:
        client.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000)
    assert not isinstance(caught.value, OutcomeUnknownError)
    assert caught.value.may_have_reached_server is False
    assert "could not be reached" in str(caught.value)
    assert url in str(caught.value)
    assert_no_secret(caught.value)


def test_connection_refused_on_a_read() -> None:
    client = make_client(f"http://127.0.0.1:{closed_port()}")
    with client, pytest.raises(KhaltiConnectionError) as caught:
        client.list_transactions()
    assert caught.value.may_have_reached_server is False


# -- money-moving calls are never sent twice -------------------------------------------------


@pytest.mark.parametrize("reply", [SERVER_ERROR, BAD_GATEWAY, json_reply(500, {"detail": "x"})])
def test_a_5xx_on_verify_is_not_retried_and_the_outcome_is_unknown(
    reply: Reply, serve: Serve
) -> None:
    # A gateway error says nothing about whether Khalti completed the payment behind it.
    server, client = serve([reply, json_reply(200, RECORD)])
    with pytest.raises(OutcomeUnknownError) as caught:
        client.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000)
    assert len(server.seen) == 1
    assert caught.value.http_status == reply.status
    assert "Check the payment's status" in str(caught.value)


def test_a_5xx_on_refund_is_not_retried_and_the_outcome_is_unknown(serve: Serve) -> None:
    server, client = serve([BAD_GATEWAY, json_reply(200, {"detail": "ok"})])
    with pytest.raises(OutcomeUnknownError):
        client.refund(RECORD["idx"])
    assert len(server.seen) == 1


def test_a_429_on_verify_is_not_retried(serve: Serve) -> None:
    throttled = json_reply(429, {"detail": "Throttled."}, Retry_After="1")
    server, client = serve([throttled, json_reply(200, RECORD)])
    with pytest.raises(RateLimitError) as caught:
        client.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000)
    assert len(server.seen) == 1
    assert caught.value.retry_after == 1.0


def test_a_503_on_lookup_is_retried(serve: Serve) -> None:
    server, client = serve([SERVER_ERROR, json_reply(200, LOOKUP)])
    assert client.epayment_lookup(LOOKUP["pidx"]).status == "Completed"
    assert len(server.seen) == 2


def test_a_refund_answer_that_is_not_an_object(serve: Serve) -> None:
    _, client = serve([json_reply(200, ["ok"])])
    with pytest.raises(UnexpectedResponseError, match="check the transaction's state"):
        client.refund(RECORD["idx"])


# -- redirects and malformed answers ---------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_refused_not_followed(status: int, serve: Serve) -> None:
    elsewhere, _ = serve([OK_PAGE])
    moved = Reply(status=status, raw=b"", headers={"Location": elsewhere.url + "/steal"})
    server, client = serve([moved])
    with pytest.raises(UnexpectedResponseError, match="redirect") as caught:
        client.list_transactions()
    with pytest.raises(UnexpectedResponseError):
        client.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000)
    assert caught.value.http_status == status
    assert elsewhere.seen == []
    assert len(server.seen) == 2


def test_200_with_html_is_unexpected(serve: Serve) -> None:
    html = Reply(raw=b"<html><body>Login to Wi-Fi</body></html>", content_type="text/html")
    server, client = serve([html])
    with pytest.raises(UnexpectedResponseError, match="not with JSON") as caught:
        client.list_transactions()
    assert caught.value.http_status == 200
    assert len(server.seen) == 1


def test_200_with_truncated_json_is_unexpected(serve: Serve) -> None:
    _, c = serve([Reply(raw=b'{"records": [')])
    with pytest.raises(UnexpectedResponseError, match="not with JSON"):
        c.transaction_detail(RECORD["idx"])


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (json_reply(200, {"total_pages": 1, "total_records": 0}), "no records list"),
        (json_reply(200, {**OK_PAGE.body, "records": None}), "no records list"),
        (json_reply(200, [RECORD]), "not a JSON object"),
        (json_reply(200, {**OK_PAGE.body, "records": ["idx"]}), "not a JSON object"),
        (page_with(amount="10.5"), "non-integer “amount” \\('10.5'\\)"),
        (page_with(amount="1_000"), "non-integer “amount”"),
        (page_with(amount=" 1000"), "non-integer “amount”"),
        (page_with(amount=True), "non-integer “amount” \\(True\\)"),
        (page_with(amount=10.0), "non-integer “amount”"),
        (page_with(amount=None), "has no “amount”"),
        (page_with(amount={"value": 1000}), "non-integer “amount”"),
        (page_with(fee_amount="3%"), "non-integer “fee_amount”"),
        (page_with(idx=None), "has no “idx”"),
        (page_with(created_on="yesterday"), "unreadable “created_on”"),
        (page_with(created_on=None), "has no “created_on”"),
        (json_reply(200, {**OK_PAGE.body, "total_pages": "many"}), "non-integer “total_pages”"),
        (json_reply(200, {**OK_PAGE.body, "record_range": ["a", "b"]}), "“record_range”"),
    ],
)
def test_json_of_the_wrong_shape_is_unexpected(reply: Reply, message: str, serve: Serve) -> None:
    _, client = serve([reply])
    with pytest.raises(UnexpectedResponseError, match=message) as caught:
        client.list_transactions()
    assert str(caught.value).startswith("Khalti's transaction list answer")


def test_amounts_as_digit_strings_are_read_as_paisa(serve: Serve) -> None:
    # Some Khalti answers quote integers; digits alone are unambiguous.
    _, client = serve([page_with(amount="1000", fee_amount=None)])
    record = client.list_transactions().records[0]
    assert (record.amount, record.fee_amount) == (1000, 0)


def test_unknown_fields_and_missing_optional_ones_are_tolerated(serve: Serve) -> None:
    sparse = {k: RECORD[k] for k in ("idx", "amount", "created_on")}
    body = {"records": [{**sparse, "loyalty_points": 7}], "total_amount": 1000}
    _, client = serve([json_reply(200, body)])
    page = client.list_transactions()
    record = page.records[0]
    assert (record.type_name, record.state_name, record.fee_amount) == ("Unknown", "Unknown", 0)
    assert (record.user, record.merchant, record.ebanker) == (None, None, None)
    assert record.raw["loyalty_points"] == 7
    assert page.raw["total_amount"] == 1000
    assert (page.current_page, page.total_pages, page.next_url) == (1, 0, None)


# -- error bodies ----------------------------------------------------------------------------


def test_a_validation_error_is_a_readable_sentence(serve: Serve) -> None:
    body = {
        "amount": ["A valid integer is required."],
        "token": ["Invalid token."],
        "error_key": "validation_error",
    }
    _, client = serve([json_reply(400, body)])
    with pytest.raises(ValidationError) as caught:
        client.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000)
    error = caught.value
    assert str(error) == (
        "Khalti refused the request: amount: A valid integer is required.; token: Invalid token."
    )
    assert error.field_errors == {
        "amount": ["A valid integer is required."],
        "token": ["Invalid token."],
    }
    assert error.http_status == 400
    assert error.body == body


def test_a_detail_error_is_shown_without_its_key_name(serve: Serve) -> None:
    body = {"detail": "Transaction already verified."}
    _, client = serve([json_reply(400, body)])
    with pytest.raises(ValidationError) as caught:
        client.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000)
    assert str(caught.value) == "Khalti refused the request: Transaction already verified."


def test_a_400_that_is_not_json_still_gives_a_sentence(serve: Serve) -> None:
    plain = Reply(status=400, raw=b"Bad Request", content_type="text/plain")
    _, client = serve([plain])
    with pytest.raises(ValidationError) as caught:
        client.verify_payment("BVNKCiLZhZipkMGws5hgS8", 1000)
    assert str(caught.value) == "Khalti refused the request: Bad Request"
    assert caught.value.body is None


@pytest.mark.parametrize("status", [401, 403])
def test_authentication_errors(status: int, serve: Serve) -> None:
    body = {"detail": "Invalid token.", "status_code": status}
    server, client = serve([json_reply(status, body)])
    with pytest.raises(AuthenticationError) as caught:
        client.list_transactions()
    assert "did not accept the secret key" in str(caught.value)
    assert "(Invalid token.)" in str(caught.value)
    assert "status_code" not in str(caught.value)
    assert len(server.seen) == 1
    assert_no_secret(caught.value)


def test_an_error_echoing_the_key_is_not_repeated(serve: Serve) -> None:
    # A misbehaving proxy may echo the request; the message is built from field errors only.
    body = {"detail": "Invalid token.", "status_code": 401}
    server, client = serve([json_reply(401, body)])
    with pytest.raises(AuthenticationError) as caught:
        client.list_transactions()
    assert server.seen[0].headers["Authorization"] == f"Key {SECRET}"
    assert_no_secret(caught.value)


def test_an_undocumented_status_is_a_khalti_error(serve: Serve) -> None:
    _, client = serve([json_reply(418, {"detail": "I'm a teapot"})])
    with pytest.raises(KhaltiError) as caught:
        client.list_transactions()
    assert type(caught.value) is KhaltiError
    assert str(caught.value) == "Khalti answered HTTP 418: I'm a teapot"


def test_the_request_id_is_kept(serve: Serve) -> None:
    reply = json_reply(404, {"detail": "Not found."}, X_Request_Id="req-123")
    _, client = serve([reply])
    with pytest.raises(NotFoundError) as caught:
        client.transaction_detail(RECORD["idx"])
    assert caught.value.request_id == "req-123"


def test_lookup_of_an_unknown_pidx_answered_with_400_is_not_found(serve: Serve) -> None:
    # The contract leaves this code open; Khalti's body is a DRF "Not found." either way.
    body = {"detail": "Not found.", "error_key": "validation_error"}
    _, client = serve([json_reply(400, body)])
    with pytest.raises(NotFoundError, match="no ePayment with this pidx") as caught:
        client.epayment_lookup("doesNotExist")
    assert caught.value.http_status == 400


def test_lookup_with_a_field_error_is_a_validation_error(serve: Serve) -> None:
    body = {"pidx": ["This field may not be blank."], "error_key": "validation_error"}
    _, client = serve([json_reply(400, body)])
    with pytest.raises(ValidationError, match="pidx: This field may not be blank"):
        client.epayment_lookup("x")


# -- what is sent ----------------------------------------------------------------------------


def test_headers_sent(serve: Serve) -> None:
    token = {"token": "BVNKCiLZhZipkMGws5hgS8"}
    server, client = serve([OK_PAGE, json_reply(200, token)])
    client.list_transactions(3)
    client.checkout_initiate(
        mobile="9800000001",
        transaction_pin="1111",
        amount=1000,
        product_identity="p-1",
        product_name="Tea",
    )
    read, initiate = server.seen
    assert read.headers["Authorization"] == f"Key {SECRET}"
    assert read.headers["Accept"] == "application/json"
    assert read.path == "/api/v2/merchant-transaction/?page=3"
    # Checkout initiate is what a customer's app sends: it never carries the secret key.
    assert "Authorization" not in initiate.headers
    assert SECRET.encode() not in initiate.body
    assert PUBLIC.encode() in initiate.body


def test_refund_request_bodies(serve: Serve) -> None:
    done = json_reply(200, {"detail": "Transaction refund successful."})
    server, client = serve([done])
    assert client.refund(RECORD["idx"]).detail == "Transaction refund successful."
    client.refund(RECORD["idx"], amount=500)
    client.refund(RECORD["idx"], amount=500, mobile="9800000001")
    assert [s.path for s in server.seen] == [
        f"/api/merchant-transaction/{RECORD['idx']}/refund/"
    ] * 3
    assert [s.body for s in server.seen] == [
        b"{}",
        b'{"amount": 500}',
        b'{"amount": 500, "mobile": "9800000001"}',
    ]


@pytest.mark.parametrize("amount", [0, -1, True, 10.0, "1000", None])
def test_bad_amounts_are_refused_before_sending(amount: Any, serve: Serve) -> None:
    server, client = serve([json_reply(200, RECORD)])
    with pytest.raises(ValueError, match="positive whole number of paisa"):
        client.verify_payment("BVNKCiLZhZipkMGws5hgS8", amount)
    with pytest.raises(ValueError, match="positive whole number of paisa"):
        client.payment_status("BVNKCiLZhZipkMGws5hgS8", amount)
    assert server.seen == []


@pytest.mark.parametrize("idx", ["", "../verify", "a/b", "a?b=c", "a#b", "a b", "%2e%2e"])
def test_an_idx_cannot_change_the_path(idx: str, serve: Serve) -> None:
    server, client = serve([json_reply(200, RECORD)])
    with pytest.raises(ValueError, match="letters and digits only"):
        client.transaction_detail(idx)
    with pytest.raises(ValueError, match="letters and digits only"):
        client.refund(idx)
    assert server.seen == []


def test_checkout_without_a_public_key_is_refused_before_sending(serve: Serve) -> None:
    server, client = serve([json_reply(200, {})], public_key=None)
    with pytest.raises(ValueError):
        client.checkout_initiate(
            mobile="9800000001",
            transaction_pin="1111",
            amount=1000,
            product_identity="p-1",
            product_name="Tea",
        )
    assert server.seen == []


def test_an_injected_session_is_used(serve: Serve) -> None:
    server, _ = serve([OK_PAGE])
    with requests.Session() as session:
        session.headers["User-Agent"] = "shop-dashboard-test"
        client = KhaltiClient(SECRET, base_url=server.url, session=session, timeout=1)
        client.list_transactions()
    assert server.seen[0].headers["User-Agent"] == "shop-dashboard-test"


def test_repr_masks_the_key() -> None:
    client = make_client("http://127.0.0.1:9")
    assert SECRET not in repr(client)
    assert SECRET[-32:] not in repr(client)
    assert repr(client) == "KhaltiClient(base_url='http://127.0.0.1:9', key=test_secret_key_…7a65)"
    assert client.key_mode == "test"


def test_the_client_refuses_plain_http_to_another_host() -> None:
    with pytest.raises(ValueError, match="not encrypted"):
        KhaltiClient(SECRET, base_url="http://dev.khalti.com")
