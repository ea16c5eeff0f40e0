"""AppTest fixtures: the real app script against real sandboxes over loopback HTTP.

Each test gets its own database and environment: no real keys, no secrets file, no
background sync thread. `configured` has test and live modes, each its own sandbox;
`test_only` has no live key; `demo` has no key at all (the built-in sandbox).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.khalti import KhaltiClient
from dashboard.sandbox import SandboxServer
from dashboard.store import Store
from dashboard.sync import sync_once

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
TEST_SECRET = "test_secret_key_" + "a1" * 16
LIVE_SECRET = "live_secret_key_" + "b2" * 16
TEST_PUBLIC = "test_public_key_" + "a1" * 16
LIVE_PUBLIC = "live_public_key_" + "b2" * 16
RUN_TIMEOUT_S = 60


@dataclass
class Env:
    """One app environment: its database and the sandboxes behind its modes."""

    db_url: str
    store: Store
    boxes: dict[str, SandboxServer]

    def sync(self, mode: str) -> None:
        box = self.boxes[mode]
        with KhaltiClient(box.secret_key, base_url=box.url) as client:
            assert sync_once(client, self.store, mode, full=True).ok


@pytest.fixture(scope="session")
def test_box() -> Iterator[SandboxServer]:
    with SandboxServer(
        records=700, seed=101, secret_key=TEST_SECRET, public_key=TEST_PUBLIC
    ) as box:
        yield box


@pytest.fixture(scope="session")
def live_box() -> Iterator[SandboxServer]:
    with SandboxServer(
        records=500, seed=202, secret_key=LIVE_SECRET, public_key=LIVE_PUBLIC
    ) as box:
        yield box


def _base_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    for name in [n for n in os.environ if n.startswith("KHALTI_")]:
        monkeypatch.delenv(name)
    db_url = f"sqlite:///{tmp_path / 'dashboard.sqlite3'}"
    monkeypatch.setenv("KHALTI_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    monkeypatch.setenv("KHALTI_DASHBOARD_DB", db_url)
    monkeypatch.setenv("KHALTI_SYNC_INTERVAL_MINUTES", "0")
    monkeypatch.setenv("KHALTI_OPERATOR_NAME", "AppTest")
    return db_url


def _set_mode_env(monkeypatch: pytest.MonkeyPatch, mode: str, box: SandboxServer) -> None:
    prefix = f"KHALTI_{mode.upper()}"
    monkeypatch.setenv(f"{prefix}_SECRET_KEY", box.secret_key)
    monkeypatch.setenv(f"{prefix}_PUBLIC_KEY", box.public_key)
    monkeypatch.setenv(f"{prefix}_BASE_URL", box.url)


@pytest.fixture
def configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, test_box: Any, live_box: Any
) -> Iterator[Env]:
    """Test and live configured (two sandboxes), both synced once."""
    db_url = _base_env(monkeypatch, tmp_path)
    _set_mode_env(monkeypatch, "test", test_box)
    _set_mode_env(monkeypatch, "live", live_box)
    with Store(db_url) as store:
        env = Env(db_url, store, {"test": test_box, "live": live_box})
        env.sync("test")
        env.sync("live")
        yield env


@pytest.fixture
def test_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, test_box: Any) -> Iterator[Env]:
    """Only test mode configured; live has no key."""
    db_url = _base_env(monkeypatch, tmp_path)
    _set_mode_env(monkeypatch, "test", test_box)
    with Store(db_url) as store:
        env = Env(db_url, store, {"test": test_box})
        env.sync("test")
        yield env


@pytest.fixture
def demo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No keys at all: the app starts its built-in sandbox (once per test process)."""
    _base_env(monkeypatch, tmp_path)
    monkeypatch.setenv("KHALTI_DEMO_RECORDS", "300")


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)


def open_page(at: AppTest, page: str) -> AppTest:
    """Run the app on pages/<page>.py, the way a browser opening that page would."""
    at.switch_page(f"pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    """Everything a person can read on the page, as one string."""
    parts: list[str] = []
    for kind in ("title", "subheader", "markdown", "caption", "info", "error", "warning"):
        parts.extend(str(e.value) for e in getattr(at, kind))
    parts.extend(f"{m.label} {m.value}" for m in at.metric)
    return "\n".join(parts)
