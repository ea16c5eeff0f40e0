"""Verify moves money: it is sent at most once, and a lost answer is never called a result."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from dashboard.khalti import KhaltiClient
from dashboard.nptime import now_utc
from dashboard.sandbox import SandboxServer
from dashboard.verify import (
    STALE_SENDING,
    Decision,
    DuplicateActionError,
    InputError,
    check_status,
    create_test_payment,
    duplicate_message,
    verify_checkout,
)
from tests.verify.conftest import OPERATOR, client_to
from tests.verify.lossy import LossyRelay

VERIFY_PATH = "/api/v2/payment/verify/"


def _verifies(sandbox: SandboxServer) -> int:
    return sum(1 for method, path in sandbox.request_log if path == VERIFY_PATH)


def _confirmed_payment(client: KhaltiClient, paisa: int = 150000) -> str:
    return create_test_payment(client, paisa, "9800000002").token


def test_test_payment_waits_for_verification(client: KhaltiClient, store) -> None:
    confirmation = create_test_payment(client, 150000, "9800000003")
    assert confirmation.amount == 150000
    status = check_status(client, store, "test", confirmation.token, 150000, OPERATOR)
    assert status.verdict.khalti_state == "Confirmed"
    assert status.verdict.decision is Decision.HOLD


@pytest.mark.parametrize(
    ("paisa", "payer", "message"),
    [(999, "9800000000", "at least Rs 10.00"), (5000, "9841000000", "sandbox test payers")],
)
def test_test_payment_input_is_checked_before_sending(
    sandbox: SandboxServer, client: KhaltiClient, paisa: int, payer: str, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        create_test_payment(client, paisa, payer)
    assert sandbox.request_log == []


def test_verify_completes_once_and_never_again(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    token = _confirmed_payment(client)
    result = verify_checkout(client, store, "test", token, 150000, OPERATOR)
    assert result.verdict.decision is Decision.DELIVER
    assert result.returned_amount == 150000 == result.amount_paisa
    assert result.transaction_id
    assert _verifies(sandbox) == 1
    action = store.money_action("test", "verify", token)
    assert (action["outcome"], action["amount_paisa"], action["operator"]) == (
        "succeeded",
        150000,
        OPERATOR,
    )

    for _ in range(3):
        with pytest.raises(DuplicateActionError) as caught:
            verify_checkout(client, store, "test", token, 150000, "Someone else")
        assert _verifies(sandbox) == 1
    message = duplicate_message(caught.value.existing)
    assert message.startswith("This payment was already verified at ")
    assert "NPT by Sita Rai" in message and "Nothing was sent again" in message

    log = store.list_audit("test")
    assert log[["action", "verdict", "khalti_state"]].values.tolist() == [
        ["verify", "Deliver", "Completed"]
    ]
    status = check_status(client, store, "test", token, 150000, OPERATOR)
    assert status.verdict.decision is Decision.DELIVER


def test_refused_verify_moves_nothing_and_may_be_retried(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    token = _confirmed_payment(client)
    wrong = verify_checkout(client, store, "test", token, 140000, OPERATOR)
    assert wrong.verdict.decision is Decision.STOP
    assert wrong.verdict.headline == "Not verified"
    assert "Nothing was charged" in wrong.verdict.reason
    assert "Amount does not match" in (wrong.error or "")
    assert store.money_action("test", "verify", token)["outcome"] == "failed"
    assert check_status(client, store, "test", token, 150000, OPERATOR).verdict.khalti_state == (
        "Confirmed"
    )

    right = verify_checkout(client, store, "test", token, 150000, OPERATOR)
    assert right.verdict.decision is Decision.DELIVER
    assert _verifies(sandbox) == 2
    assert store.list_audit("test")["action"].tolist() == [
        "verify",
        "status_check",
        "verify",
    ]


def test_verify_of_an_unfinished_payment_is_refused(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    token, amount = sandbox.demo_tokens["Initiated"]
    result = verify_checkout(client, store, "test", token, amount, OPERATOR)
    assert result.verdict.decision is Decision.STOP
    assert "not confirmed yet" in result.verdict.reason
    assert store.money_action("test", "verify", token)["outcome"] == "failed"


def test_unreachable_khalti_sends_nothing_and_allows_a_retry(
    sandbox: SandboxServer, client: KhaltiClient, store, dead_url: str
) -> None:
    token = _confirmed_payment(client)
    with client_to(dead_url, sandbox, max_retries=0) as offline:
        result = verify_checkout(offline, store, "test", token, 150000, OPERATOR)
    assert result.verdict.decision is Decision.NOT_CHECKED
    assert result.verdict.headline == "Not verified"
    assert store.money_action("test", "verify", token)["outcome"] == "failed"
    assert verify_checkout(client, store, "test", token, 150000, OPERATOR).verdict.decision is (
        Decision.DELIVER
    )


def test_lost_answer_is_unknown_until_a_status_check_shows_it_went_through(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    token = _confirmed_payment(client)
    with (
        LossyRelay(sandbox.url, "forward") as relay,
        client_to(relay.url, sandbox, max_retries=0) as flaky,
    ):
        result = verify_checkout(flaky, store, "test", token, 150000, OPERATOR)
    assert len(relay.requests) == 1
    assert result.verdict.decision is Decision.UNKNOWN
    assert result.verdict.headline == "Outcome unknown: check status"
    assert _verifies(sandbox) == 1
    assert store.money_action("test", "verify", token)["outcome"] == "unknown"
    assert store.list_audit("test")["verdict"].tolist() == ["Outcome unknown"]

    with pytest.raises(DuplicateActionError) as caught:
        verify_checkout(client, store, "test", token, 150000, OPERATOR)
    assert "outcome is unknown" in duplicate_message(caught.value.existing)
    assert _verifies(sandbox) == 1

    status = check_status(client, store, "test", token, 150000, OPERATOR)
    assert status.verdict.decision is Decision.DELIVER
    assert store.money_action("test", "verify", token)["outcome"] == "succeeded"
    with pytest.raises(DuplicateActionError):
        verify_checkout(client, store, "test", token, 150000, OPERATOR)


def test_lost_request_is_unknown_until_a_status_check_shows_it_never_arrived(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    token = _confirmed_payment(client)
    with (
        LossyRelay(sandbox.url, "swallow") as relay,
        client_to(relay.url, sandbox, max_retries=0) as flaky,
    ):
        result = verify_checkout(flaky, store, "test", token, 150000, OPERATOR)
    assert len(relay.requests) == 1
    assert result.verdict.decision is Decision.UNKNOWN
    assert _verifies(sandbox) == 0

    # A check for another amount cannot settle it: it would be about another payment.
    check_status(client, store, "test", token, 100000, OPERATOR)
    assert store.money_action("test", "verify", token)["outcome"] == "unknown"

    status = check_status(client, store, "test", token, 150000, OPERATOR)
    assert status.verdict.khalti_state == "Confirmed"
    assert store.money_action("test", "verify", token)["outcome"] == "failed"
    again = verify_checkout(client, store, "test", token, 150000, OPERATOR)
    assert again.verdict.decision is Decision.DELIVER
    assert _verifies(sandbox) == 1


def test_claim_abandoned_mid_send_is_settled_by_a_later_status_check(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    token = _confirmed_payment(client)
    # A desk claimed the verify and stopped before sending or recording anything.
    store.begin_money_action("test", "verify", token, 150000, OPERATOR)
    with pytest.raises(DuplicateActionError):
        verify_checkout(client, store, "test", token, 150000, OPERATOR)

    # While the claim is young a request may still be in flight: a check settles nothing.
    check_status(client, store, "test", token, 150000, OPERATOR)
    assert store.money_action("test", "verify", token)["outcome"] == "sending"

    later = now_utc() + STALE_SENDING + timedelta(seconds=1)
    status = check_status(client, store, "test", token, 150000, OPERATOR, now=later)
    assert status.verdict.khalti_state == "Confirmed"
    assert store.money_action("test", "verify", token)["outcome"] == "failed"
    assert verify_checkout(client, store, "test", token, 150000, OPERATOR).verdict.decision is (
        Decision.DELIVER
    )
    assert _verifies(sandbox) == 1


def test_guard_is_per_mode(sandbox: SandboxServer, client: KhaltiClient, store) -> None:
    token = _confirmed_payment(client)
    store.begin_money_action("live", "verify", token, 150000, OPERATOR)
    assert verify_checkout(client, store, "test", token, 150000, OPERATOR).verdict.decision is (
        Decision.DELIVER
    )


def test_simultaneous_verifications_send_one(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    token = _confirmed_payment(client)
    desks = 6
    start = threading.Barrier(desks)

    def desk(_: int) -> str:
        start.wait()
        try:
            verify_checkout(client, store, "test", token, 150000, OPERATOR)
        except DuplicateActionError:
            return "refused"
        return "sent"

    with ThreadPoolExecutor(desks) as pool:
        outcomes = sorted(pool.map(desk, range(desks)))
    assert outcomes == ["refused"] * (desks - 1) + ["sent"]
    assert _verifies(sandbox) == 1
    assert store.list_audit("test")["action"].tolist() == ["verify"]


def test_a_claim_held_elsewhere_blocks_sending(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    token = _confirmed_payment(client)
    store.begin_money_action("test", "verify", token, 150000, "Counter 3")
    with pytest.raises(DuplicateActionError) as caught:
        verify_checkout(client, store, "test", token, 150000, OPERATOR)
    assert "is already being sent" in duplicate_message(caught.value.existing)
    assert "by Counter 3" in duplicate_message(caught.value.existing)
    assert _verifies(sandbox) == 0
