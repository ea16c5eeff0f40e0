"""Every row of Khalti's status and lookup tables becomes the right verdict, once audited."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dashboard.khalti import KhaltiClient, PaymentStatus, Transaction
from dashboard.money import format_npr
from dashboard.sandbox import SandboxServer
from dashboard.verify import (
    Decision,
    check_status,
    lookup_epayment,
    status_verdict,
    transaction_verdict,
    verify_verdict,
)
from tests.verify.conftest import OPERATOR, client_to

STATUS_ROWS = [
    ("Complete", Decision.DELIVER, "Deliver"),
    ("Confirmed", Decision.HOLD, "Hold: verify it first"),
    ("Initiated", Decision.STOP, "Do not deliver yet"),
    ("Refunded", Decision.STOP, "Do not deliver"),
    ("Partially refunded", Decision.HOLD, "Hold and contact Khalti"),
    ("Failed", Decision.STOP, "Do not deliver"),
]

LOOKUP_ROWS = [
    ("Completed", Decision.DELIVER, "Deliver"),
    ("Pending", Decision.HOLD, "Hold and contact Khalti"),
    ("Initiated", Decision.STOP, "Do not deliver yet"),
    ("Refunded", Decision.STOP, "Do not deliver"),
    ("Partially refunded", Decision.HOLD, "Hold and contact Khalti"),
    ("Expired", Decision.STOP, "Do not deliver"),
    ("User canceled", Decision.STOP, "Do not deliver"),
]


def _requests(sandbox: SandboxServer, path: str) -> list[tuple[str, str]]:
    return [entry for entry in sandbox.request_log if entry[1].startswith(path)]


@pytest.mark.parametrize(("state", "decision", "headline"), STATUS_ROWS)
def test_status_rows(
    sandbox: SandboxServer,
    client: KhaltiClient,
    store,
    state: str,
    decision: Decision,
    headline: str,
) -> None:
    token, amount = sandbox.demo_tokens[state]
    result = check_status(client, store, "test", token, amount, OPERATOR)
    assert result.verdict.decision is decision
    assert result.verdict.headline == headline
    assert result.verdict.khalti_state == state
    assert result.raw is not None and result.raw["state"] == state
    assert len(_requests(sandbox, "/api/v2/payment/status/")) == 1
    log = store.list_audit("test")
    assert len(log) == 1
    row = log.iloc[0]
    assert (row["action"], row["reference"], row["amount_paisa"]) == ("status_check", token, amount)
    assert (row["verdict"], row["khalti_state"], row["operator"]) == (
        decision.value,
        state,
        OPERATOR,
    )
    assert int(row["id"]) == result.audit_id


def test_status_error_row_suggests_checking_the_amount(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    token, amount = sandbox.demo_tokens["Complete"]
    result = check_status(client, store, "test", token, amount + 100, OPERATOR)
    assert result.verdict.decision is Decision.STOP
    assert result.verdict.khalti_state == "Error"
    assert "amount" in result.verdict.reason
    assert store.list_audit("test")["verdict"].tolist() == ["Do not deliver"]


def test_status_accepts_a_transaction_idx(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    (idx,) = sandbox.add_payments(1, state="Completed", amount=123456)
    result = check_status(client, store, "test", idx, 123456, OPERATOR)
    assert result.verdict.decision is Decision.DELIVER


def test_unfamiliar_status_state_is_a_hold() -> None:
    verdict = status_verdict(PaymentStatus.from_api({"state": "Reversed", "status": False}))
    assert verdict.decision is Decision.HOLD
    assert "Reversed" in verdict.reason


@pytest.mark.parametrize(("status", "decision", "headline"), LOOKUP_ROWS)
def test_lookup_rows(
    sandbox: SandboxServer,
    client: KhaltiClient,
    store,
    status: str,
    decision: Decision,
    headline: str,
) -> None:
    pidx = sandbox.demo_pidx[status]
    result = lookup_epayment(client, store, "test", pidx, OPERATOR)
    assert result.verdict.decision is decision
    assert result.verdict.headline == headline
    assert result.verdict.khalti_state == status
    assert result.returned_amount is not None and result.returned_amount > 0
    assert result.fee is not None
    if status in ("Completed", "Refunded", "Partially refunded"):
        assert result.transaction_id
    assert len(_requests(sandbox, "/api/v2/epayment/lookup/")) == 1
    log = store.list_audit("test")
    assert log[["action", "reference", "verdict", "khalti_state"]].values.tolist() == [
        ["lookup", pidx, decision.value, status]
    ]
    assert log.iloc[0]["amount_paisa"] == result.returned_amount


def test_lookup_of_unknown_pidx_is_not_found(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    result = lookup_epayment(client, store, "test", "NoSuchPidx0000000000000", OPERATOR)
    assert result.verdict.decision is Decision.STOP
    assert result.verdict.khalti_state == "Not found"
    assert "copied" in result.verdict.reason
    assert store.list_audit("test")["verdict"].tolist() == ["Do not deliver"]


def test_lookup_after_the_link_expires(sandbox: SandboxServer, client: KhaltiClient, store) -> None:
    from datetime import timedelta

    started = client.epayment_initiate(
        amount=5000,
        purchase_order_id="order-1",
        purchase_order_name="Tea",
        return_url="https://shop.example/return",
        website_url="https://shop.example",
    )
    assert lookup_epayment(client, store, "test", started.pidx, OPERATOR).verdict.decision is (
        Decision.STOP
    )
    sandbox.advance(timedelta(minutes=61))
    late = lookup_epayment(client, store, "test", started.pidx, OPERATOR)
    assert late.verdict.khalti_state == "Expired"
    assert late.verdict.decision is Decision.STOP


@pytest.mark.parametrize(
    ("state", "decision"),
    [
        ("Completed", Decision.DELIVER),
        ("Confirmed", Decision.HOLD),
        ("Initiated", Decision.STOP),
        ("Failed", Decision.STOP),
        ("Refunded", Decision.STOP),
        ("Partially refunded", Decision.HOLD),
        ("Something new", Decision.HOLD),
    ],
)
def test_transaction_states(state: str, decision: Decision) -> None:
    assert transaction_verdict(state).decision is decision


def test_verify_answer_is_cross_checked_against_the_amount(sandbox: SandboxServer) -> None:
    (idx,) = sandbox.add_payments(1, state="Completed", amount=150000)
    answer = Transaction.from_api(sandbox.record(idx))
    assert verify_verdict(answer, 150000).decision is Decision.DELIVER
    assert format_npr(150000) in verify_verdict(answer, 150000).reason

    mismatch = verify_verdict(answer, 140000)
    assert mismatch.decision is Decision.STOP
    assert mismatch.alarm and mismatch.tone == "red"
    assert mismatch.headline == "Amounts do not match"
    assert "Rs 1,500.00" in mismatch.reason and "Rs 1,400.00" in mismatch.reason

    pending = verify_verdict(replace(answer, state_name="Confirmed"), 150000)
    assert pending.decision is Decision.HOLD


def test_unreachable_khalti_is_recorded_as_not_checked(
    sandbox: SandboxServer, store, dead_url: str
) -> None:
    token, amount = sandbox.demo_tokens["Complete"]
    with client_to(dead_url, sandbox, max_retries=0) as offline:
        result = check_status(offline, store, "test", token, amount, OPERATOR)
        looked = lookup_epayment(offline, store, "test", sandbox.demo_pidx["Completed"], OPERATOR)
    for checked in (result, looked):
        assert checked.verdict.decision is Decision.NOT_CHECKED
        assert "could not be reached" in checked.verdict.reason
        assert "Do not deliver until a check succeeds" in checked.verdict.reason
    log = store.list_audit("test")
    assert log["verdict"].tolist() == ["Could not check", "Could not check"]
    assert log["note"].str.contains("could not be reached").all()


def test_modes_never_mix(sandbox: SandboxServer, client: KhaltiClient, store) -> None:
    token, amount = sandbox.demo_tokens["Complete"]
    check_status(client, store, "test", token, amount, OPERATOR)
    assert store.list_audit("live").empty
    assert len(store.list_audit("test")) == 1
