"""`python -m dashboard ...` as subprocesses, against a sandbox started by the test."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest

from dashboard.nptime import today_npt
from dashboard.sandbox import SandboxServer
from dashboard.store import Store, TxFilter
from tests.sync.helpers import TEST_SECRET, list_pages_requested, running, server_idxs

ROOT = Path(__file__).resolve().parents[2]
WRONG_KEY = "test_secret_key_" + "ab" * 16


def environment(tmp_path: Path, sandbox: SandboxServer | None, **extra: str) -> dict[str, str]:
    """A clean environment: none of the developer's own KHALTI_ settings or secrets file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHALTI_")}
    env.update(
        PYTHONPATH=str(ROOT),
        KHALTI_SECRETS_FILE=str(tmp_path / "no-such-secrets.toml"),
        KHALTI_DASHBOARD_DB=f"sqlite:///{tmp_path / 'cli.sqlite'}",
    )
    if sandbox is not None:
        env.update(KHALTI_TEST_SECRET_KEY=sandbox.secret_key, KHALTI_TEST_BASE_URL=sandbox.url)
    env.update(extra)
    return env


def dashboard(
    tmp_path: Path, env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dashboard", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with running(records=700, seed=41) as server:
        yield server


@pytest.fixture
def synced(tmp_path: Path, sandbox: SandboxServer) -> dict[str, str]:
    env = environment(tmp_path, sandbox)
    done = dashboard(tmp_path, env, "sync")
    assert done.returncode == 0, done.stderr
    return env


def open_store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'cli.sqlite'}")


# -- sync -------------------------------------------------------------------------------


def test_sync_then_sync_again(tmp_path: Path, sandbox: SandboxServer) -> None:
    env = environment(tmp_path, sandbox)
    first = dashboard(tmp_path, env, "sync", "--mode", "test")
    assert first.returncode == 0, first.stderr
    assert "test: Full sync done: " in first.stdout and "700 new" in first.stdout
    assert "Khalti lists 700 payments." in first.stdout

    sandbox.add_payments(3)
    second = dashboard(tmp_path, env, "sync", "--progress")
    assert second.returncode == 0, second.stderr
    assert "test: Sync done: " in second.stdout and "3 new" in second.stdout
    assert "page" in second.stderr  # the progress bar, forced on without a terminal
    for output in (first.stdout, first.stderr, second.stdout, second.stderr):
        assert sandbox.secret_key not in output
    store = open_store(tmp_path)
    assert store.all_idxs("test") == server_idxs(sandbox)
    store.close()


def test_sync_without_keys_says_how_to_use_the_sandbox(tmp_path: Path) -> None:
    done = dashboard(tmp_path, environment(tmp_path, None), "sync")
    assert done.returncode == 2
    assert "Test mode has no secret key (KHALTI_TEST_SECRET_KEY)" in done.stderr
    assert "python -m dashboard sandbox" in done.stderr
    assert "KHALTI_TEST_BASE_URL=http://127.0.0.1:8765" in done.stderr


def test_sync_of_an_unconfigured_live_mode(tmp_path: Path, sandbox: SandboxServer) -> None:
    done = dashboard(tmp_path, environment(tmp_path, sandbox), "sync", "--mode", "live")
    assert done.returncode == 2
    assert "Live mode has no secret key" in done.stderr


def test_sync_with_a_refused_key_fails_without_printing_it(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    env = environment(tmp_path, sandbox, KHALTI_TEST_SECRET_KEY=WRONG_KEY)
    done = dashboard(tmp_path, env, "sync")
    assert done.returncode == 1
    assert "did not accept the secret key" in done.stderr and not done.stdout
    assert WRONG_KEY not in done.stdout + done.stderr
    assert "ab" * 16 not in done.stdout + done.stderr


def test_sync_with_a_badly_shaped_key_is_a_configuration_error(
    tmp_path: Path, sandbox: SandboxServer
) -> None:
    env = environment(tmp_path, sandbox, KHALTI_TEST_SECRET_KEY="test_secret_key_not-hex")
    done = dashboard(tmp_path, env, "sync")
    assert done.returncode == 2
    assert "Warning: KHALTI_TEST_SECRET_KEY: This is not a Khalti secret key" in done.stderr
    assert "python -m dashboard sandbox" not in done.stderr  # a key is set, just wrong
    assert "not-hex" not in done.stdout + done.stderr


def test_sync_with_khalti_unreachable_fails(tmp_path: Path) -> None:
    with running(records=5) as gone:
        env = environment(tmp_path, gone)
    done = dashboard(tmp_path, env, "sync")
    assert done.returncode == 1
    assert "test: Full sync failed after 0 pages" in done.stderr
    assert "could not be reached" in done.stderr and not done.stdout


def test_interrupted_sync_resumes(tmp_path: Path) -> None:
    with running(records=30_000, seed=43) as big:
        env = environment(tmp_path, big)
        process = subprocess.Popen(
            [sys.executable, "-m", "dashboard", "sync"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        store = None
        try:
            deadline = time.monotonic() + 60
            while store is None or store.count("test") < 2000:
                assert process.poll() is None, "the sync ended before it was interrupted"
                assert time.monotonic() < deadline
                if store is None and (tmp_path / "cli.sqlite").exists():
                    store = open_store(tmp_path)
                time.sleep(0.05)
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 130, stderr
        assert "Interrupted" in stderr and "Traceback" not in stderr
        assert store is not None
        stored = store.count("test")
        assert 2000 <= stored < 30_000
        big.request_log.clear()

        resumed = dashboard(tmp_path, env, "sync")

        assert resumed.returncode == 0, resumed.stderr
        assert "Full sync done" in resumed.stdout
        assert store.all_idxs("test") == server_idxs(big)
        assert len(list_pages_requested(big)) < 30_000 // 50
        store.close()


# -- export -----------------------------------------------------------------------------


def test_export_each_format(tmp_path: Path, synced: dict[str, str]) -> None:
    store = open_store(tmp_path)
    first_day, last_day = store.date_span("test")
    first_day = max(first_day, last_day.replace(day=1))
    expected, _ = store.transactions_summary("test", TxFilter(first_day, last_day))
    assert expected > 0
    span = ["--from", first_day.isoformat(), "--to", last_day.isoformat()]

    for fmt in ("csv", "xlsx", "json"):
        done = dashboard(tmp_path, synced, "export", *span, "--format", fmt)
        assert done.returncode == 0, done.stderr
        name = f"khalti-test-{first_day}_to_{last_day}.{fmt}"
        assert f"Wrote {expected:,} test payments" in done.stdout and name in done.stdout
        path = tmp_path / name
        if fmt == "csv":
            with path.open(encoding="utf-8-sig", newline="") as handle:
                assert len(list(csv.DictReader(handle))) == expected
        elif fmt == "json":
            assert len(json.loads(path.read_text(encoding="utf-8"))) == expected
        else:
            assert openpyxl.load_workbook(path).active.max_row == expected + 1

    completed = dashboard(
        tmp_path, synced, "export", *span, "--state", "Completed", "--out", "done.xlsx"
    )
    assert completed.returncode == 0, completed.stderr
    states = {row[2] for row in openpyxl.load_workbook(tmp_path / "done.xlsx").active.values}
    assert states == {"state", "Completed"}
    store.close()


def test_export_of_a_single_nepal_day(tmp_path: Path, synced: dict[str, str]) -> None:
    store = open_store(tmp_path)
    _, last_day = store.date_span("test")
    day = TxFilter(first_day=last_day, last_day=last_day)
    expected = [row["idx"] for batch in store.iter_transactions("test", day) for row in batch]
    done = dashboard(
        tmp_path, synced, "export", "--from", str(last_day), "--to", str(last_day), "--out", "d.csv"
    )
    assert done.returncode == 0, done.stderr
    with (tmp_path / "d.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["idx"] for row in rows] == expected
    assert all(row["created_on"].startswith(f"{last_day}T") for row in rows)
    assert all(row["created_on"].endswith("+05:45") for row in rows)
    store.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-02-30"], "2026-02-30 is not a real calendar date"),
        (["--from", "1/11/2026"], "is not a date; write it as YYYY-MM-DD"),
        (["--from", "2026-11-30", "--to", "2026-11-01"], "--to 2026-11-01 is before --from"),
        (["--out", "report.pdf"], "Cannot tell the format from “report.pdf”"),
        (["--format", "pdf"], "invalid choice: 'pdf'"),
    ],
)
def test_export_refuses_bad_input(tmp_path: Path, args: list[str], message: str) -> None:
    done = dashboard(tmp_path, environment(tmp_path, None), "export", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert not list(tmp_path.glob("khalti-*")) and not (tmp_path / "report.pdf").exists()


def test_export_into_a_missing_folder_fails_cleanly(tmp_path: Path) -> None:
    done = dashboard(tmp_path, environment(tmp_path, None), "export", "--out", "nowhere/x.csv")
    assert done.returncode == 1
    assert "The folder nowhere does not exist." in done.stderr
    assert not (tmp_path / "nowhere").exists()


def test_export_before_any_sync_says_so(tmp_path: Path) -> None:
    done = dashboard(tmp_path, environment(tmp_path, None), "export", "--out", "empty.json")
    assert done.returncode == 0
    assert "run  python -m dashboard sync --mode test  first" in done.stderr
    assert json.loads((tmp_path / "empty.json").read_text()) == []


# -- sandbox ----------------------------------------------------------------------------


def test_sandbox_command_serves_what_sync_reads(tmp_path: Path) -> None:
    env = environment(tmp_path, None)
    server = subprocess.Popen(
        [sys.executable, "-m", "dashboard", "sandbox", "--port", "0", "--records", "120"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = key = None
        while url is None or key is None:
            line = server.stdout.readline()
            assert line, server.stderr.read() if server.stderr else "sandbox exited"
            if match := re.search(r"listening on (http://\S+)", line):
                url = match.group(1)
            if match := re.search(r"secret key\s+(\S+)", line):
                key = match.group(1)
        env.update(KHALTI_TEST_SECRET_KEY=key, KHALTI_TEST_BASE_URL=url)

        done = dashboard(tmp_path, env, "sync")

        assert done.returncode == 0, done.stderr
        assert "120 new" in done.stdout
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=30)
    assert server.returncode == 0
    store = open_store(tmp_path)
    assert store.count("test") == 120
    assert store.date_span("test")[1] <= today_npt()
    store.close()


def test_help_lists_the_commands(tmp_path: Path) -> None:
    done = dashboard(tmp_path, environment(tmp_path, None), "--help")
    assert done.returncode == 0
    for command in ("sandbox", "sync", "export"):
        assert command in done.stdout
    assert TEST_SECRET not in done.stdout
