"""Find a payment locally, fetch it again from Khalti, and see what changed."""

from __future__ import annotations

from datetime import UTC, datetime

from dashboard.khalti import KhaltiClient
from dashboard.sandbox import SandboxServer
from dashboard.verify import Decision, merchant_name_for, refresh_transaction
from tests.verify.conftest import OPERATOR, client_to


def test_refresh_adds_an_unsynced_payment(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    (idx,) = sandbox.add_payments(1, state="Completed", amount=250000)
    assert store.transaction("test", idx) is None
    done = refresh_transaction(client, store, "test", idx, OPERATOR)
    assert not done.was_stored and done.changes == ()
    assert done.detail is not None and done.detail.transaction.idx == idx
    assert done.result.verdict.decision is Decision.DELIVER
    stored = store.transaction("test", idx)
    assert stored["amount"] == 250000 and stored["state"] == "Completed"
    mobile = sandbox.record(idx)["user"]["mobile"]
    assert idx in store.find_transactions("test", mobile)["idx"].tolist()
    log = store.list_audit("test")
    assert log[["action", "reference", "amount_paisa", "verdict"]].values.tolist() == [
        ["refresh", idx, 250000, "Deliver"]
    ]


def test_refresh_shows_what_changed(sandbox: SandboxServer, client: KhaltiClient, store) -> None:
    (idx,) = sandbox.add_payments(1, state="Completed", amount=80000)
    refresh_transaction(client, store, "test", idx, OPERATOR)
    sandbox.set_state(idx, "Refunded")
    done = refresh_transaction(client, store, "test", idx, OPERATOR)
    assert done.was_stored
    assert ("State", "Completed", "Refunded") in done.changes
    assert ("Refunded", "No", "Yes") in done.changes
    assert done.result.verdict.decision is Decision.STOP
    assert store.transaction("test", idx)["state"] == "Refunded"
    assert [h["state"] for h in store.state_history("test", idx)] == ["Completed", "Refunded"]
    note = store.list_audit("test").iloc[0]["note"]
    assert "State: Completed → Refunded" in note

    unchanged = refresh_transaction(client, store, "test", idx, OPERATOR)
    assert unchanged.changes == ()
    assert len(store.list_audit("test")) == 3


def test_refresh_of_an_unknown_idx(sandbox: SandboxServer, client: KhaltiClient, store) -> None:
    done = refresh_transaction(client, store, "test", "NoSuchTransaction00000", OPERATOR)
    assert done.detail is None
    assert done.result.verdict.decision is Decision.STOP
    assert done.result.verdict.khalti_state == "Not found"
    assert store.count("test") == 0
    assert store.list_audit("test")["action"].tolist() == ["refresh"]


def test_refresh_when_khalti_is_unreachable(sandbox: SandboxServer, store, dead_url: str) -> None:
    (idx,) = sandbox.add_payments(1)
    with client_to(dead_url, sandbox, max_retries=0) as offline:
        done = refresh_transaction(offline, store, "test", idx, OPERATOR)
    assert done.result.verdict.decision is Decision.NOT_CHECKED
    assert store.count("test") == 0


def test_merchant_name_comes_from_khalti_records(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    assert merchant_name_for(store, "test") == "Khalti merchant"
    (idx,) = sandbox.add_payments(1)
    store.upsert_transactions(
        "test", [client.transaction_detail(idx).transaction], datetime.now(UTC)
    )
    expected = sandbox.record(idx)["merchant"]["name"]
    assert merchant_name_for(store, "test") == expected
    assert merchant_name_for(store, "test", {"merchant": {"name": "Other Shop"}}) == "Other Shop"
