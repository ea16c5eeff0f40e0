"""The guard that keeps a money-moving call from being sent twice."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import timedelta

import pytest

from dashboard.store import DuplicateActionError, Store
from tests.store import _workers


def test_claim_and_finish(store: Store) -> None:
    action_id = store.begin_money_action("live", "verify", "tokenA", 1000, "asha")
    row = store.money_action("live", "verify", "tokenA")
    assert row is not None
    assert row["id"] == action_id and row["outcome"] == "sending"
    assert row["amount_paisa"] == 1000 and row["operator"] == "asha"
    assert row["started_at"].utcoffset() == timedelta(0) and row["finished_at"] is None
    store.finish_money_action(action_id, "succeeded", "Transaction complete.")
    row = store.money_action("live", "verify", "tokenA")
    assert row is not None
    assert row["outcome"] == "succeeded" and row["detail"] == "Transaction complete."
    assert row["finished_at"] is not None and row["finished_at"].utcoffset() == timedelta(0)
    assert store.money_action("live", "verify", "other") is None


@pytest.mark.parametrize("outcome", ["sending", "succeeded", "unknown"])
def test_blocking_outcomes(store: Store, outcome: str) -> None:
    action_id = store.begin_money_action("live", "refund", "8xmeJnNXfoVjCvGcZiiGe7", 500, "asha")
    if outcome != "sending":
        store.finish_money_action(action_id, outcome)  # type: ignore[arg-type]
    with pytest.raises(DuplicateActionError) as caught:
        store.begin_money_action("live", "refund", "8xmeJnNXfoVjCvGcZiiGe7", 500, "bikash")
    existing = caught.value.existing
    assert existing["id"] == action_id and existing["outcome"] == outcome
    assert existing["operator"] == "asha"
    assert "asha" in str(caught.value)


def test_failed_attempt_allows_a_new_one(store: Store) -> None:
    first = store.begin_money_action("live", "verify", "tokenB", 1000, "asha")
    store.finish_money_action(first, "failed", "HTTP 400 Invalid token.")
    second = store.begin_money_action("live", "verify", "tokenB", 1000, "asha")
    assert second != first
    latest = store.money_action("live", "verify", "tokenB")
    assert latest is not None and latest["id"] == second and latest["outcome"] == "sending"
    with pytest.raises(DuplicateActionError):
        store.begin_money_action("live", "verify", "tokenB", 1000, "asha")
    # An unknown result later found to have failed frees the reference again.
    store.finish_money_action(second, "unknown")
    store.finish_money_action(second, "failed")
    store.begin_money_action("live", "verify", "tokenB", 1000, "asha")


def test_mode_kind_and_reference_are_separate(store: Store) -> None:
    store.begin_money_action("live", "verify", "same", 1000, "asha")
    store.begin_money_action("test", "verify", "same", 1000, "asha")
    store.begin_money_action("live", "refund", "same", 1000, "asha")
    store.begin_money_action("live", "verify", "same2", 1000, "asha")
    assert store.money_action("test", "verify", "same") is not None
    assert store.money_action("test", "refund", "same") is None


def test_validation(store: Store) -> None:
    with pytest.raises(ValueError):
        store.begin_money_action("prod", "verify", "x", 1000, "asha")
    with pytest.raises(TypeError):
        store.begin_money_action("live", "verify", "x", 10.0, "asha")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.begin_money_action("live", "verify", "", 1000, "asha")
    action_id = store.begin_money_action("live", "verify", "x", 1000, "asha")
    with pytest.raises(ValueError):
        store.finish_money_action(action_id, "sending")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.finish_money_action(action_id, "done")  # type: ignore[arg-type]
    with pytest.raises(LookupError):
        store.finish_money_action(action_id + 1000, "failed")


def test_concurrent_claims_from_threads(store: Store) -> None:
    callers = 8
    barrier = threading.Barrier(callers)
    results: list[str] = []
    lock = threading.Lock()

    def race() -> None:
        barrier.wait(timeout=30)
        try:
            store.begin_money_action("live", "verify", "raced-token", 1000, "thread")
            outcome = "won"
        except DuplicateActionError:
            outcome = "duplicate"
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=race) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["duplicate"] * (callers - 1) + ["won"]


def test_concurrent_claims_from_processes(store: Store, store_url: str) -> None:
    """Separate processes (a second tab's server, a replica) racing for one reference."""
    ctx = multiprocessing.get_context("spawn")
    callers = 4
    barrier = ctx.Barrier(callers)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=_workers.claim, args=(results, store_url, barrier, "proc-token"))
        for _ in range(callers)
    ]
    for proc in procs:
        proc.start()
    outcomes = sorted(results.get(timeout=120) for _ in procs)
    for proc in procs:
        proc.join(timeout=60)
    assert outcomes == ["duplicate"] * (callers - 1) + ["won"]
    row = store.money_action("live", "verify", "proc-token")
    assert row is not None and row["outcome"] == "sending"
