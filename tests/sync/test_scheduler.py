"""SyncScheduler: background syncs, Sync now, one sync per mode, and freshness."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dashboard.config import ModeConfig, Settings, load_settings
from dashboard.khalti import KhaltiClient
from dashboard.sandbox import SandboxServer
from dashboard.store import Store
from dashboard.sync import (
    SyncProgress,
    SyncScheduler,
    ago_text,
    describe,
    freshness,
    sync_once,
)
from tests.sync.helpers import LIVE_SECRET, running, server_idxs


def settings_for(
    tmp_path: Path, db_url: str, test: SandboxServer, live: SandboxServer | None = None
) -> Settings:
    environ = {
        "KHALTI_TEST_SECRET_KEY": test.secret_key,
        "KHALTI_TEST_BASE_URL": test.url,
        "KHALTI_DASHBOARD_DB": db_url,
        "KHALTI_SYNC_INTERVAL_MINUTES": "5",
    }
    if live is not None:
        environ["KHALTI_LIVE_SECRET_KEY"] = live.secret_key
        environ["KHALTI_LIVE_BASE_URL"] = live.url
    return load_settings(environ, tmp_path / "no-secrets.toml")


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'scheduler.sqlite'}"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running(records=600, seed=31) as server:
        yield server


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


def test_run_now_while_a_sync_runs_reports_busy(
    tmp_path: Path, db_url: str, sandbox: SandboxServer
) -> None:
    store = Store(db_url)
    scheduler = SyncScheduler(settings_for(tmp_path, db_url, sandbox), store, interval_s=0)
    inside, release = threading.Event(), threading.Event()
    results = []

    def hold(step: SyncProgress) -> None:
        inside.set()
        release.wait(10)

    worker = threading.Thread(target=lambda: results.append(scheduler.run_now("test", hold)))
    worker.start()
    try:
        assert inside.wait(10)
        status = scheduler.status("test")
        assert status.running and status.progress is not None
        assert describe(status).startswith("syncing…")

        busy = scheduler.run_now("test")

        assert busy.busy and not busy.ok
        assert busy.error == "A sync of test mode is already running; it will finish on its own."
    finally:
        release.set()
        worker.join(30)
    assert results[0].ok and results[0].complete
    status = scheduler.status("test")
    assert not status.running and status.last_error is None
    assert status.last_success_at is not None and status.last_result is results[0]
    assert store.all_idxs("test") == server_idxs(sandbox)
    store.close()


class CountingClients:
    """Builds real clients and records how many syncs of each mode hold one at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: dict[str, int] = {}
        self.most: dict[str, int] = {}
        self.runs: dict[str, int] = {}

    def __call__(self, config: ModeConfig) -> Any:
        counter = self

        class Tracked(KhaltiClient):
            def __enter__(self) -> KhaltiClient:
                with counter.lock:
                    counter.active[config.mode] = counter.active.get(config.mode, 0) + 1
                    counter.most[config.mode] = max(
                        counter.most.get(config.mode, 0), counter.active[config.mode]
                    )
                    counter.runs[config.mode] = counter.runs.get(config.mode, 0) + 1
                # Long enough that callers from other threads arrive during the sync.
                time.sleep(0.05)
                return self

            def __exit__(self, *exc: object) -> None:
                with counter.lock:
                    counter.active[config.mode] -= 1
                super().__exit__(*exc)

        return Tracked(config.secret_key, base_url=config.base_url)


def test_never_two_syncs_of_one_mode_at_once(tmp_path: Path, db_url: str) -> None:
    with (
        running(records=400, seed=32) as test_box,
        running(records=300, seed=33, secret_key=LIVE_SECRET) as live_box,
    ):
        store = Store(db_url)
        clients = CountingClients()
        scheduler = SyncScheduler(
            settings_for(tmp_path, db_url, test_box, live_box),
            store,
            interval_s=0.01,
            client_factory=clients,
        )
        # A second scheduler on the same database shares the locks.
        other = SyncScheduler(scheduler.settings, store, interval_s=0, client_factory=clients)
        outcomes: list[Any] = []
        outcomes_lock = threading.Lock()

        def press_sync_now(target: SyncScheduler, mode: str) -> None:
            for _ in range(6):
                result = target.run_now(mode)
                with outcomes_lock:
                    outcomes.append(result)

        assert scheduler.start()
        pressers = [
            threading.Thread(target=press_sync_now, args=(target, mode))
            for target in (scheduler, other, scheduler)
            for mode in ("test", "live")
        ]
        for thread in pressers:
            thread.start()
        for thread in pressers:
            thread.join(60)
        scheduler.stop()

        assert not scheduler.alive
        assert clients.most == {"test": 1, "live": 1}
        assert clients.runs["test"] >= 2 and clients.runs["live"] >= 2
        assert any(result.busy for result in outcomes)
        assert all(result.ok for result in outcomes if not result.busy)
        assert store.all_idxs("test") == server_idxs(test_box)
        assert store.all_idxs("live") == server_idxs(live_box)
        store.close()


def test_background_thread_syncs_each_interval_and_stops(
    tmp_path: Path, db_url: str, sandbox: SandboxServer
) -> None:
    store = Store(db_url)
    scheduler = SyncScheduler(settings_for(tmp_path, db_url, sandbox), store, interval_s=0.2)
    assert scheduler.start()
    try:
        wait_for(lambda: scheduler.status("test").last_success_at is not None)
        assert store.count("test") == 600
        wait_for(lambda: scheduler.status("test").next_run_at is not None)
        new = sandbox.add_payments(4)
        wait_for(lambda: new[0] in store.all_idxs("test"))
    finally:
        scheduler.stop()
    assert not scheduler.alive
    assert freshness(store, "test").text == "synced just now"
    store.close()


def test_interval_zero_starts_no_thread(
    tmp_path: Path, db_url: str, sandbox: SandboxServer
) -> None:
    settings = settings_for(tmp_path, db_url, sandbox)
    store = Store(db_url)
    scheduler = SyncScheduler(settings, store, interval_s=0)
    assert scheduler.start() is False and not scheduler.alive
    assert scheduler.run_now("test").ok
    off = SyncScheduler(
        load_settings(
            {**_environ(sandbox, db_url), "KHALTI_SYNC_INTERVAL_MINUTES": "0"},
            tmp_path / "none.toml",
        ),
        store,
    )
    assert off.interval == 0 and off.start() is False
    store.close()


def test_a_failing_sync_is_reported_and_the_thread_lives_on(
    tmp_path: Path, db_url: str, sandbox: SandboxServer
) -> None:
    store = Store(db_url)
    sandbox.fail_pages.add(1)
    scheduler = SyncScheduler(
        settings_for(tmp_path, db_url, sandbox),
        store,
        interval_s=0.05,
        client_factory=lambda config: KhaltiClient(
            config.secret_key, base_url=config.base_url, max_retries=0
        ),
    )
    scheduler.start()
    try:
        wait_for(lambda: scheduler.status("test").last_error is not None)
        failed = scheduler.status("test")
        assert "page 1" in failed.last_error and failed.last_success_at is None
        assert describe(failed) == "never synced"
        sandbox.fail_pages.clear()
        wait_for(lambda: scheduler.status("test").last_error is None)
        assert scheduler.alive
    finally:
        scheduler.stop()
    assert store.count("test") == 600
    store.close()


def test_an_unexpected_error_becomes_a_readable_result(
    tmp_path: Path, db_url: str, sandbox: SandboxServer
) -> None:
    def broken(config: ModeConfig) -> KhaltiClient:
        raise RuntimeError("boom")

    store = Store(db_url)
    scheduler = SyncScheduler(
        settings_for(tmp_path, db_url, sandbox), store, interval_s=0, client_factory=broken
    )
    result = scheduler.run_now("test")
    assert not result.ok and "unexpected problem (RuntimeError)" in result.error
    # The lock was released: a working client syncs at once.
    scheduler.client_factory = ModeConfig.client
    assert scheduler.run_now("test").ok
    store.close()


def test_freshness_survives_a_restart_and_is_shared(
    tmp_path: Path, db_url: str, sandbox: SandboxServer
) -> None:
    store = Store(db_url)
    assert freshness(store, "test") == freshness(store, "test")
    assert freshness(store, "test").text == "never synced"
    SyncScheduler(settings_for(tmp_path, db_url, sandbox), store, interval_s=0).run_now("test")
    store.close()

    reopened = Store(db_url)  # as another process, or the app after a restart, would
    fresh = freshness(reopened, "test")
    assert fresh.last_success_at is not None
    later = fresh.last_success_at + timedelta(minutes=4, seconds=10)
    assert freshness(reopened, "test", later).text == "synced 4 min ago"
    status = SyncScheduler(settings_for(tmp_path, db_url, sandbox), reopened, interval_s=0).status(
        "test"
    )
    assert status.last_success_at == fresh.last_success_at and not status.running
    assert freshness(reopened, "live").text == "never synced"
    reopened.close()


def test_status_shows_a_sync_run_elsewhere(
    tmp_path: Path, db_url: str, sandbox: SandboxServer
) -> None:
    app_store, cli_store = Store(db_url), Store(db_url)
    watcher = SyncScheduler(settings_for(tmp_path, db_url, sandbox), app_store, interval_s=0)
    assert watcher.status("test").last_success_at is None

    with watcher.settings.require("test").client() as khalti:
        assert sync_once(khalti, cli_store, "test").ok  # as `python -m dashboard sync` does

    seen = watcher.status("test")
    assert seen.last_success_at is not None and seen.last_error is None
    assert seen.last_result is None and not seen.running
    app_store.close()
    cli_store.close()


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "just now"),
        (59, "just now"),
        (60, "1 min ago"),
        (4 * 60 + 59, "4 min ago"),
        (3 * 3600 + 120, "3 h ago"),
        (86400, "1 day ago"),
        (9 * 86400, "9 days ago"),
        (-30, "just now"),  # a clock slightly behind another process's
    ],
)
def test_ago_text(seconds: int, text: str) -> None:
    then = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    assert ago_text(then, then + timedelta(seconds=seconds)) == text


def _environ(sandbox: SandboxServer, db_url: str) -> dict[str, str]:
    return {
        "KHALTI_TEST_SECRET_KEY": sandbox.secret_key,
        "KHALTI_TEST_BASE_URL": sandbox.url,
        "KHALTI_DASHBOARD_DB": db_url,
    }
