"""Browser fixtures: the real app under `streamlit run`, driven by headless Debian Chromium.

Every app runs with its environment isolated (no real keys, a throwaway database, no
secrets file), so a test can never touch a merchant's data. Reusable by any browser test:
`demo_app` (no keys, built-in sandbox), `configured_app` (test and live sandboxes),
`page` (a fresh browser tab), and the helpers `open_app_page`, `wait_idle`, `screenshot`.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dashboard.khalti import KhaltiClient
from dashboard.sandbox import SandboxServer
from dashboard.store import Store
from dashboard.sync import sync_once

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOT_DIR = ROOT / "screenshots"
START_TIMEOUT_S = 90
IDLE_TIMEOUT_MS = 60_000
TEST_SECRET = "test_secret_key_" + "1" * 32
LIVE_SECRET = "live_secret_key_" + "2" * 32
TEST_PUBLIC = "test_public_key_" + "1" * 32
LIVE_PUBLIC = "live_public_key_" + "2" * 32


def free_port() -> int:
    """A TCP port nobody is listening on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def isolated_env(folder: Path, **settings: str) -> dict[str, str]:
    """os.environ without any KHALTI_ setting, plus a throwaway database and `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KHALTI_")}
    env.update(
        KHALTI_SECRETS_FILE=str(folder / "no-secrets.toml"),
        KHALTI_DASHBOARD_DB=f"sqlite:///{folder / 'dashboard.sqlite3'}",
        KHALTI_DEMO_RECORDS="600",
        KHALTI_SYNC_INTERVAL_MINUTES="0",
        KHALTI_OPERATOR_NAME="E2E tester",
    )
    env.update(settings)
    return env


@dataclass
class RunningApp:
    """A `streamlit run app.py` subprocess and where to reach it."""

    url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    extras: dict[str, Any] = field(default_factory=dict)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _wait_healthy(app: RunningApp) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if app.process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{app.log()}")
        try:
            with urllib.request.urlopen(app.url + "/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not start in {START_TIMEOUT_S} s:\n{app.log()}")


def start_app(env: dict[str, str], log_path: Path) -> RunningApp:
    """Start the dashboard headless on a free loopback port and wait until it answers."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]
    handle = log_path.open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    app = RunningApp(url=f"http://localhost:{port}", env=env, process=process, log_path=log_path)
    try:
        _wait_healthy(app)
    except BaseException:
        stop_app(app)
        raise
    return app


def stop_app(app: RunningApp) -> None:
    app.process.terminate()
    try:
        app.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        app.process.kill()
        app.process.wait(timeout=5)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is not installed, so the browser tests cannot run"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="session")
def demo_app(tmp_path_factory: pytest.TempPathFactory, chromium_path: Path) -> Iterator[RunningApp]:
    """The app as a newcomer starts it: no keys, so the built-in sandbox with demo data."""
    folder = tmp_path_factory.mktemp("demo-app")
    app = start_app(isolated_env(folder), folder / "streamlit.log")
    yield app
    stop_app(app)


@pytest.fixture(scope="session")
def configured_app(
    tmp_path_factory: pytest.TempPathFactory, chromium_path: Path
) -> Iterator[RunningApp]:
    """Test and live both configured, each its own sandbox on loopback, both synced once."""
    folder = tmp_path_factory.mktemp("configured-app")
    test_box = SandboxServer(records=300, seed=11, secret_key=TEST_SECRET, public_key=TEST_PUBLIC)
    live_box = SandboxServer(records=450, seed=22, secret_key=LIVE_SECRET, public_key=LIVE_PUBLIC)
    with test_box, live_box:
        env = isolated_env(
            folder,
            KHALTI_TEST_SECRET_KEY=TEST_SECRET,
            KHALTI_TEST_PUBLIC_KEY=TEST_PUBLIC,
            KHALTI_TEST_BASE_URL=test_box.url,
            KHALTI_LIVE_SECRET_KEY=LIVE_SECRET,
            KHALTI_LIVE_PUBLIC_KEY=LIVE_PUBLIC,
            KHALTI_LIVE_BASE_URL=live_box.url,
        )
        with Store(env["KHALTI_DASHBOARD_DB"]) as store:
            for mode, box in (("test", test_box), ("live", live_box)):
                with KhaltiClient(box.secret_key, base_url=box.url) as client:
                    assert sync_once(client, store, mode, full=True).ok
        app = start_app(env, folder / "streamlit.log")
        app.extras.update(test_box=test_box, live_box=live_box)
        yield app
        stop_app(app)


@pytest.fixture(scope="session")
def browser(chromium_path: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium_path), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab in its own browser context (own cookies, so its own Streamlit session)."""
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(IDLE_TIMEOUT_MS)
    yield tab
    context.close()


IDLE_SELECTOR = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def wait_idle(page: Any, settle_ms: int = 400) -> None:
    """Wait until the app has stopped running and stays stopped for `settle_ms`.

    A page may rerun itself (st.rerun), so one glimpse of "not running" is not enough.
    """
    page.wait_for_timeout(300)  # the rerun request needs a moment to reach the server
    deadline = time.monotonic() + IDLE_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        page.wait_for_selector(IDLE_SELECTOR, timeout=IDLE_TIMEOUT_MS)
        page.wait_for_timeout(settle_ms)
        if page.locator(IDLE_SELECTOR).count():
            return
    raise TimeoutError("the app kept running")


def open_app_page(page: Any, app: RunningApp, url_path: str = "") -> None:
    """Load a page of the app by its URL path and wait until it has rendered."""
    page.goto(f"{app.url}/{url_path}")
    page.wait_for_selector('[data-testid="stApp"]')
    wait_idle(page)


def screenshot(page: Any, name: str) -> Path | None:
    """Save a full-page PNG under screenshots/ when SCREENSHOTS=1."""
    if os.environ.get("SCREENSHOTS") != "1":
        return None
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    path = SCREENSHOT_DIR / f"{re.sub(r'[^a-z0-9_-]+', '-', name.lower())}.png"
    # The app scrolls inside its main section, not the document, so a "full page" shot
    # needs a viewport as tall as that section's content.
    size = page.viewport_size
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight ?? 0"
    )
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height + 40)})
    # Plotly draws after the script has finished; wait until every chart has its SVG.
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid="stPlotlyChart"]')]
                 .every(chart => chart.querySelector('.main-svg'))"""
    )
    page.wait_for_timeout(800)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path
