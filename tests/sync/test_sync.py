"""sync_once against the sandbox over real HTTP, into a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import math
import threading
from datetime import timedelta
from typing import Any

import pytest

from dashboard.khalti import KhaltiClient
from dashboard.nptime import now_utc, parse_khalti_time
from dashboard.store import Store
from dashboard.sync import SyncProgress, _gaps, _merge, sync_once
from tests.sync.helpers import (
    LIVE_SECRET,
    PAGE_SIZE,
    client,
    list_pages_requested,
    running,
    server_idxs,
    server_records,
)


def pages_of(records: int) -> int:
    return max(1, math.ceil(records / PAGE_SIZE))


# -- the first sync ---------------------------------------------------------------------


def test_backfill_stores_exactly_what_khalti_lists(store: Any) -> None:
    with running(records=1234, seed=3) as sandbox, client(sandbox) as khalti:
        expected = server_records(sandbox)
        sandbox.request_log.clear()

        result = sync_once(khalti, store, "test")

        assert result.ok and result.error is None
        assert result.kind == "backfill" and result.complete
        assert result.inserted == 1234 and result.changed == 0
        assert result.server_total == 1234
        assert store.all_idxs("test") == {r["idx"] for r in expected}
        assert store.count("test") == 1234
        # Every page once, plus page 1 again to prove the last pages did not shift.
        requested = list_pages_requested(sandbox)
        assert sorted(set(requested)) == list(range(1, pages_of(1234) + 1))
        assert len(requested) == pages_of(1234) + 1
        for record in (expected[0], expected[617], expected[-1]):
            stored = store.transaction("test", record["idx"])
            assert stored["state"] == record["state"]["name"]
            assert stored["amount"] == record["amount"]
            assert stored["created_on"] == parse_khalti_time(record["created_on"])
        state = store.get_sync_state("test")
        assert state["backfill_complete"] is True
        assert state["covered"] == [[0, 1234]]
        assert state["last_synced_at"]


def test_backfill_of_an_empty_list_then_first_payments(sqlite_store: Store) -> None:
    store = sqlite_store
    with running(records=0) as sandbox, client(sandbox) as khalti:
        first = sync_once(khalti, store, "test")
        assert first.ok and first.complete and store.count("test") == 0

        new = sandbox.add_payments(3)
        second = sync_once(khalti, store, "test")
        assert second.ok and second.kind == "incremental" and second.inserted == 3
        assert store.all_idxs("test") == set(new)


def test_progress_reports_each_stored_batch(sqlite_store: Store) -> None:
    seen: list[SyncProgress] = []
    with running(records=800) as sandbox, client(sandbox) as khalti:
        result = sync_once(khalti, sqlite_store, "test", progress=seen.append)
    assert seen, "no progress was reported"
    done = [step.pages_done for step in seen]
    assert done == sorted(done) and done[-1] == result.pages
    assert all(step.pages_total >= step.pages_done for step in seen)
    assert seen[-1].records == result.records
    assert seen[-1].fraction == 1.0


# -- later syncs ------------------------------------------------------------------------


def test_incremental_without_news_reads_page_one_and_the_recent_window(store: Any) -> None:
    with running(records=5000, seed=5) as sandbox, client(sandbox) as khalti:
        sync_once(khalti, store, "test")
        listing = server_records(sandbox)
        now = now_utc()
        cutoff = now - timedelta(days=7)
        # The window ends on the first page whose oldest record is older than 7 days.
        first_old = next(
            i for i, r in enumerate(listing) if parse_khalti_time(r["created_on"]) < cutoff
        )
        last_page = first_old // PAGE_SIZE + 1
        assert last_page >= 2, "the demo data should put more than a page in a week"
        sandbox.request_log.clear()

        result = sync_once(khalti, store, "test", now=now)

        assert result.ok and result.kind == "incremental"
        assert (result.inserted, result.changed) == (0, 0)
        assert list_pages_requested(sandbox) == list(range(1, last_page + 1))

        sandbox.request_log.clear()
        sync_once(khalti, store, "test", recent_days=0, now=now)
        assert list_pages_requested(sandbox) == [1]


def test_a_busy_recent_window_is_read_ahead_but_not_past_its_end(sqlite_store: Store) -> None:
    # 30,000 payments in 13 months: a week holds about a dozen pages.
    with running(records=30_000, seed=14) as sandbox, client(sandbox) as khalti:
        sync_once(khalti, sqlite_store, "test")
        now = now_utc()
        listing = server_records(sandbox)
        cutoff = now - timedelta(days=7)
        first_old = next(
            i for i, r in enumerate(listing) if parse_khalti_time(r["created_on"]) < cutoff
        )
        last_page = first_old // PAGE_SIZE + 1
        sandbox.request_log.clear()
        batches: list[int] = []

        result = sync_once(
            khalti, sqlite_store, "test", now=now, progress=lambda s: batches.append(s.pages_done)
        )

        requested = list_pages_requested(sandbox)
        assert result.ok and last_page >= 8
        assert sorted(requested) == list(range(1, last_page + 1))
        assert len(batches) < last_page, "every page was read on its own"


def test_new_payments_are_picked_up(store: Any) -> None:
    with running(records=600) as sandbox, client(sandbox) as khalti:
        sync_once(khalti, store, "test")
        new = sandbox.add_payments(137, state="Completed", amount=250_00)

        result = sync_once(khalti, store, "test", recent_days=0)

        assert result.ok and result.kind == "incremental"
        assert result.inserted == 137
        assert store.all_idxs("test") == server_idxs(sandbox)
        assert store.transaction("test", new[0])["amount"] == 250_00


def test_state_change_in_the_recent_window_is_kept_with_its_history(store: Any) -> None:
    with running(records=5000, seed=9) as sandbox, client(sandbox) as khalti:
        first_seen = now_utc()
        sync_once(khalti, store, "test", now=first_seen)
        listing = server_records(sandbox)
        # A completed payment past page 1 but younger than the 7-day window.
        window = first_seen - timedelta(days=6)
        target = next(
            r
            for r in listing[PAGE_SIZE:]
            if r["state"]["name"] == "Completed" and parse_khalti_time(r["created_on"]) > window
        )
        sandbox.set_state(target["idx"], "Refunded")
        refunded_seen = first_seen + timedelta(minutes=5)

        result = sync_once(khalti, store, "test", now=refunded_seen)

        assert result.ok and result.changed == 1 and result.inserted == 0
        stored = store.transaction("test", target["idx"])
        assert stored["state"] == "Refunded" and stored["refunded"] is True
        history = store.state_history("test", target["idx"])
        assert [h["state"] for h in history] == ["Completed", "Refunded"]
        assert history[-1]["observed_at"] == refunded_seen


def test_old_change_outside_the_window_waits_for_a_full_sync(sqlite_store: Store) -> None:
    store = sqlite_store
    with running(records=3000, seed=4) as sandbox, client(sandbox) as khalti:
        sync_once(khalti, store, "test")
        oldest = server_records(sandbox)[-1]
        new_state = "Failed" if oldest["state"]["name"] != "Failed" else "Completed"
        sandbox.set_state(oldest["idx"], new_state)

        quick = sync_once(khalti, store, "test")
        assert quick.ok and quick.changed == 0
        assert store.transaction("test", oldest["idx"])["state"] == oldest["state"]["name"]

        full = sync_once(khalti, store, "test", full=True)
        assert full.ok and full.kind == "backfill" and full.changed == 1
        assert store.transaction("test", oldest["idx"])["state"] == new_state


def test_resyncing_changes_nothing(store: Any) -> None:
    with running(records=700) as sandbox, client(sandbox) as khalti:
        sync_once(khalti, store, "test")
        some = sorted(store.all_idxs("test"))[:5]
        again = sync_once(khalti, store, "test", full=True)
        once_more = sync_once(khalti, store, "test")

    assert again.ok and (again.inserted, again.changed) == (0, 0)
    assert again.records >= 700
    assert once_more.ok and (once_more.inserted, once_more.changed) == (0, 0)
    assert store.count("test") == 700
    assert all(len(store.state_history("test", idx)) == 1 for idx in some)


# -- a list that moves while it is read -------------------------------------------------


def test_payments_arriving_during_the_backfill_are_all_stored_once(store: Any) -> None:
    with running(records=4000, seed=12) as sandbox, client(sandbox) as khalti:
        arrivals = threading.Event()
        added: list[str] = []

        def keep_paying() -> None:
            for _ in range(60):
                added.extend(sandbox.add_payments(3))
                arrivals.wait(0.002)

        payer = threading.Thread(target=keep_paying)
        calls = 0

        def progress(step: SyncProgress) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                payer.start()  # pays while pages are in flight
            if calls == 8:
                payer.join()  # and has finished before the last pages are read

        result = sync_once(khalti, store, "test", concurrency=4, progress=progress)

        assert calls >= 8 and len(added) == 180
        assert result.ok, result.error
        assert store.count("test") == sandbox.total == 4180
        assert store.all_idxs("test") == server_idxs(sandbox)


def test_a_payment_between_counting_and_slicing_a_page_is_not_missed(sqlite_store: Store) -> None:
    # Khalti (like any DRF list) counts, then slices: a payment in between shifts the
    # page without changing its count. That loses records only when the next older page
    # was read before, so: a first run stores every page but 3, and the run that reads
    # page 3 gets a payment in exactly that moment.
    store = sqlite_store
    with running(records=1000, seed=8) as sandbox:
        sandbox.fail_pages.add(3)
        with client(sandbox, max_retries=0) as khalti:
            assert not sync_once(khalti, store, "test").ok
        sandbox.fail_pages.clear()
        ledger = sandbox._ledger
        original = ledger.newest
        shifted = threading.Event()

        def newest(offset: int, limit: int, total: int) -> list[dict[str, Any]]:
            if offset == 2 * PAGE_SIZE and not shifted.is_set():
                shifted.set()
                sandbox.add_payments(7)
                total = ledger.total  # sliced as the list is now, not as it was counted
            return original(offset, limit, total)

        ledger.newest = newest
        try:
            with client(sandbox) as khalti:
                result = sync_once(khalti, store, "test")
        finally:
            ledger.newest = original

        assert shifted.is_set()
        assert result.ok, result.error
        assert store.all_idxs("test") == server_idxs(sandbox)
        assert store.count("test") == 1007


def test_interrupted_backfill_resumes_where_it_stopped(store: Any) -> None:
    with running(records=3000, seed=21) as sandbox, client(sandbox) as khalti:

        def stop_after_twenty_pages(step: SyncProgress) -> None:
            if step.pages_done >= 20:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            sync_once(khalti, store, "test", progress=stop_after_twenty_pages)

        state = store.get_sync_state("test")
        assert not state.get("backfill_complete")
        assert state["last_error"] == "The sync was stopped before it finished."
        partial = store.count("test")
        assert 20 * PAGE_SIZE <= partial < 3000
        recorded = sum(end - start for start, end in state["covered"])
        assert recorded >= 10 * PAGE_SIZE
        # The list moves on before the next run.
        sandbox.add_payments(75)
        sandbox.request_log.clear()

        result = sync_once(khalti, store, "test")

        assert result.ok and result.kind == "backfill" and result.complete
        assert store.all_idxs("test") == server_idxs(sandbox)
        assert store.count("test") == 3075
        assert result.inserted == 3075 - partial
        # It resumed: only the gaps between what was recorded were read (each gap can
        # start and end mid-page), plus one page to prove the last ones did not shift.
        gaps = _gaps(_merge(state["covered"]), 3075)
        most = sum(math.ceil((end - start) / PAGE_SIZE) + 1 for start, end in gaps) + 1
        requested = len(list_pages_requested(sandbox))
        assert requested <= most
        assert requested < pages_of(3075)


def test_page_failing_after_retries_fails_the_run_and_is_read_next_time(store: Any) -> None:
    with running(records=900, seed=6) as sandbox:
        listing = server_records(sandbox)
        on_page_7 = {r["idx"] for r in listing[6 * PAGE_SIZE : 7 * PAGE_SIZE]}
        sandbox.fail_pages.add(7)
        sandbox.request_log.clear()
        with client(sandbox, max_retries=2, backoff_factor=0) as khalti:
            failed = sync_once(khalti, store, "test")

            assert not failed.ok and not failed.complete
            assert "page 7" in failed.error and "Khalti is having trouble" in failed.error
            assert "HTTP 503" in failed.error
            assert list_pages_requested(sandbox).count(7) == 3  # first try and two retries
            assert not (store.all_idxs("test") & on_page_7)
            state = store.get_sync_state("test")
            assert not state.get("backfill_complete") and "last_synced_at" not in state
            assert state["last_error"] == failed.error

            sandbox.fail_pages.clear()
            sandbox.request_log.clear()
            healed = sync_once(khalti, store, "test")

    assert healed.ok and healed.complete and healed.kind == "backfill"
    assert store.all_idxs("test") == {r["idx"] for r in listing}
    assert len(list_pages_requested(sandbox)) < pages_of(900)


def test_a_wrong_key_fails_with_the_reason_and_stores_nothing(sqlite_store: Store) -> None:
    store = sqlite_store
    with running(records=100) as sandbox:
        wrong = KhaltiClient("test_secret_key_" + "0" * 32, base_url=sandbox.url)
        with wrong:
            result = sync_once(wrong, store, "test")
    assert not result.ok and "did not accept the secret key" in result.error
    assert "0" * 32 not in result.error
    assert store.count("test") == 0
    assert not store.get_sync_state("test").get("backfill_complete")


def test_khalti_unreachable_is_a_failure_not_a_success(sqlite_store: Store) -> None:
    store = sqlite_store
    with running(records=10) as sandbox:
        url = sandbox.url
    with KhaltiClient("test_secret_key_" + "1" * 32, base_url=url, max_retries=0) as khalti:
        result = sync_once(khalti, store, "test")
    assert not result.ok and "could not be reached" in result.error
    assert "last_synced_at" not in store.get_sync_state("test")


def test_positions_beyond_the_list_make_the_next_sync_read_everything(
    sqlite_store: Store,
) -> None:
    store = sqlite_store
    # E.g. the key was changed to another merchant: what we recorded no longer applies.
    with running(records=300) as sandbox, client(sandbox) as khalti:
        store.save_sync_state("test", {"backfill_complete": True, "covered": [[0, 5000]]})
        result = sync_once(khalti, store, "test")
    assert result.ok and result.kind == "backfill" and result.inserted == 300
    assert store.get_sync_state("test")["covered"] == [[0, 300]]


# -- modes ------------------------------------------------------------------------------


def test_test_and_live_never_mix(store: Any) -> None:
    with (
        running(records=400, seed=1) as test_box,
        running(records=250, seed=2, secret_key=LIVE_SECRET) as live_box,
        client(test_box) as test_client,
        client(live_box) as live_client,
    ):
        assert sync_once(test_client, store, "test").ok
        assert sync_once(live_client, store, "live").ok
        test_set, live_set = server_idxs(test_box), server_idxs(live_box)
        live_box.add_payments(5)
        assert sync_once(live_client, store, "live").inserted == 5

        assert store.all_idxs("test") == test_set
        assert store.all_idxs("live") == server_idxs(live_box)
        assert not test_set & live_set
        assert store.get_sync_state("test")["covered"] == [[0, 400]]
        assert store.get_sync_state("live")["covered"] == [[0, 255]]
        with pytest.raises(ValueError, match="test_ key"):
            sync_once(test_client, store, "live")


# -- coverage arithmetic ----------------------------------------------------------------


def test_merge_and_gaps() -> None:
    assert _merge([(5, 9), (0, 3), (3, 4), (8, 12), (20, 20)]) == [(0, 4), (5, 12)]
    assert _gaps([(0, 4), (5, 12)], 15) == [(4, 5), (12, 15)]
    assert _gaps([], 3) == [(0, 3)]
    assert _gaps([(0, 10)], 10) == []
    assert _gaps([(2, 30)], 10) == [(0, 2)]
