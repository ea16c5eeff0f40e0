"""The running app in headless Chromium: every page renders, the mode switch, a real download."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from dashboard.export import COLUMNS
from dashboard.money import format_npr, group_nepali
from dashboard.nptime import preset_range, today_npt
from dashboard.store import Store, TxFilter
from tests.e2e.conftest import RunningApp, open_app_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e

PAGES = [
    ("", "Overview"),
    ("transactions", "Transactions"),
    ("verify", "Verify"),
    ("settings", "Settings"),
]


def main_text(page: Any) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def assert_no_exception(page: Any) -> None:
    problems = page.locator('[data-testid="stException"]')
    assert problems.count() == 0, problems.first.inner_text()


@pytest.mark.parametrize(("url_path", "title"), PAGES)
def test_every_page_renders_in_demo_mode(
    demo_app: RunningApp, page: Any, url_path: str, title: str
) -> None:
    open_app_page(page, demo_app, url_path)
    assert_no_exception(page)
    heading = page.locator('[data-testid="stMain"] h1').first
    assert title in heading.inner_text()
    assert "offline Khalti sandbox" in main_text(page) or url_path == "verify"
    screenshot(page, f"demo-{url_path or 'overview'}")


def test_live_is_disabled_with_its_reason_in_demo(demo_app: RunningApp, page: Any) -> None:
    open_app_page(page, demo_app)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert "Live is off" in sidebar.inner_text()
    assert "KHALTI_LIVE_SECRET_KEY" in sidebar.inner_text()
    live_button = sidebar.get_by_role("radio", name="Live")
    assert live_button.is_disabled()
    assert "LIVE — real money" not in main_text(page)


def summary_line(app: RunningApp, mode: str) -> str:
    """What the Transactions page must say for Last 30 days, from the app's own database."""
    first, last = preset_range("Last 30 days", today_npt())
    with Store(app.env["KHALTI_DASHBOARD_DB"]) as store:
        count, total = store.transactions_summary(mode, TxFilter(first_day=first, last_day=last))
    assert count, f"the {mode} sandbox has no payments in the last 30 days"
    return f"{group_nepali(count)} payments totalling {format_npr(total)}"


def test_mode_switch_shows_only_that_modes_data(configured_app: RunningApp, page: Any) -> None:
    test_line, live_line = (
        summary_line(configured_app, "test"),
        summary_line(configured_app, "live"),
    )
    assert test_line != live_line
    open_app_page(page, configured_app, "transactions")
    text = main_text(page)
    assert test_line in text and live_line not in text
    assert "LIVE — real money" not in text
    assert "LIVE" not in page.title()
    screenshot(page, "configured-test-transactions")

    page.locator('[data-testid="stSidebar"]').get_by_role("radio", name="Live").click()
    wait_idle(page)
    text = main_text(page)
    assert live_line in text and test_line not in text
    assert "LIVE — real money" in text
    assert "🔴 LIVE · Transactions" in text
    assert "🔴 LIVE" in page.title()
    screenshot(page, "configured-live-transactions")

    # Moving to another page keeps the session, and with it live mode.
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Overview").click()
    wait_idle(page)
    assert "🔴 LIVE · Overview" in main_text(page)
    assert "LIVE — real money" in main_text(page)
    screenshot(page, "configured-live-overview")

    page.locator('[data-testid="stSidebar"]').get_by_role("radio", name="Test").click()
    wait_idle(page)
    assert "LIVE — real money" not in main_text(page)
    assert "LIVE" not in page.title()


def test_csv_download_has_the_export_header(demo_app: RunningApp, page: Any) -> None:
    open_app_page(page, demo_app, "transactions")
    with page.expect_download() as waiting:
        page.get_by_role("button", name="Export all as CSV").click()
    download = waiting.value
    assert download.suggested_filename.startswith("khalti-test-")
    assert download.suggested_filename.endswith(".csv")
    with open(download.path(), encoding="utf-8-sig") as handle:
        rows = list(csv.reader(io.StringIO(handle.read())))
    assert tuple(rows[0]) == COLUMNS
    assert len(rows) > 1


def test_selecting_a_row_opens_its_detail(demo_app: RunningApp, page: Any) -> None:
    open_app_page(page, demo_app, "transactions")
    grid = page.locator('[data-testid="stDataFrame"]').first
    box = grid.bounding_box()
    # The table is drawn on a canvas: click the first row's selection box by position.
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)
    wait_idle(page)
    text = main_text(page)
    assert "Saved copy" in text and "From Khalti now" in text
    assert "could not be fetched" not in text
    link = page.get_by_role("link", name="Check this payment on the Verify desk")
    assert "idx=" in (link.get_attribute("href") or "")
    screenshot(page, "demo-transaction-detail")
