"""Several writers at once: the Streamlit process, the sync process, more threads."""

from __future__ import annotations

import itertools
import multiprocessing
import random
import threading
import time
from datetime import UTC, date, datetime

from dashboard.store import Store, TxFilter
from tests.store import _workers


def test_two_processes_write_while_this_one_reads(store: Store, store_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    results = ctx.Queue()
    batches, size = 12, 25
    writers = [
        ctx.Process(
            target=_workers.write_batches,
            args=(results, store_url, barrier, prefix, batches, size),
        )
        for prefix in ("procA", "procB")
    ]
    for writer in writers:
        writer.start()
    # Meanwhile the dashboard keeps reading.
    reads = 0
    deadline = time.monotonic() + 120
    while any(w.is_alive() for w in writers) and time.monotonic() < deadline:
        store.transactions_page("live", TxFilter(), limit=20)
        store.volume_series("live", date(2024, 4, 1), date(2024, 4, 30), "day", states=())
        store.transactions_summary("live", TxFilter())
        reads += 1
    outcomes = [results.get(timeout=120) for _ in writers]
    for writer in writers:
        writer.join(timeout=60)
    assert outcomes == [batches * size] * 2, outcomes
    assert reads > 0
    total = 2 * batches * size
    assert store.count("live") == total
    assert store.transactions_summary("live", TxFilter(states=("Refunded",)))[0] == total
    assert store.rollup_is_consistent("live")
    some = next(iter(store.all_idxs("live")))
    assert [h["state"] for h in store.state_history("live", some)] == ["Completed", "Refunded"]
    assert store.get_sync_state("live")["writer"] in {"procA", "procB"}


def test_threads_upserting_the_same_rows(store: Store) -> None:
    idxs = list(range(60))
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def sync(seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait(timeout=30)
            for _ in range(10):
                picked = rng.sample(idxs, 20)
                state = rng.choice(["Completed", "Refunded", "Failed"])
                rows = [_workers.synthetic("same", n, state) for n in picked]
                store.upsert_transactions("live", rows, datetime.now(UTC))
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=sync, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert store.count("live") <= len(idxs)
    assert store.rollup_is_consistent("live")
    keys = store.transaction_keys("live", list(store.all_idxs("live")))
    for idx, (state, _refunded, _amount, _fee) in keys.items():
        history = store.state_history("live", idx)
        assert history[-1]["state"] == state
        # Consecutive history entries always differ: a change is recorded once.
        assert all(a["state"] != b["state"] for a, b in itertools.pairwise(history))
