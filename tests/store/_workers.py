"""Functions run in child processes by the concurrency tests (importable by spawn)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from typing import Any

from dashboard.khalti.models import Party, Transaction
from dashboard.nptime import NPT
from dashboard.store import DuplicateActionError, Store


def _report(results: Queue[Any], outcome: Any) -> None:
    results.put(outcome)


def claim(results: Queue[Any], url: str, barrier: Barrier, reference: str) -> None:
    """Open a Store, wait for the others, then race to claim one money action."""
    store = Store(url)
    try:
        barrier.wait(timeout=60)
        try:
            store.begin_money_action("live", "verify", reference, 1000, "worker")
        except DuplicateActionError:
            _report(results, "duplicate")
        else:
            _report(results, "won")
    except Exception as exc:
        _report(results, f"error: {exc!r}")
    finally:
        store.close()


def synthetic(prefix: str, number: int, state: str = "Completed") -> Transaction:
    created = datetime(2024, 4, 1, 10, 0, tzinfo=NPT) + timedelta(minutes=number)
    return Transaction(
        idx=f"{prefix}{number:018d}",
        type_name="Wallet payment",
        state_name=state,
        amount=1000 + number,
        fee_amount=30,
        refunded=False,
        created_on=created,
        user=Party(idx=None, name=f"Customer {number}", mobile="9800000001"),
        raw={"idx": f"{prefix}{number:018d}"},
    )


def write_batches(
    results: Queue[Any], url: str, barrier: Barrier, prefix: str, batches: int, size: int
) -> None:
    """Upsert `batches` small batches of new rows, then change the state of them all."""
    store = Store(url)
    try:
        barrier.wait(timeout=60)
        for b in range(batches):
            rows = [synthetic(prefix, b * size + i) for i in range(size)]
            store.upsert_transactions("live", rows, datetime.now(UTC))
            # Writers and a reader at the same time, as the app and the sync process do.
            store.count("live")
        rows = [synthetic(prefix, n, "Refunded") for n in range(batches * size)]
        store.upsert_transactions("live", rows, datetime.now(UTC))
        store.save_sync_state("live", {"writer": prefix})
        _report(results, batches * size)
    except Exception as exc:
        _report(results, f"error: {exc!r}")
    finally:
        store.close()
