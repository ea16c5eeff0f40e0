"""The Verify page in headless Chromium: pay as a test customer, verify once, see Deliver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dashboard.khalti import KhaltiClient
from dashboard.sandbox import SandboxServer
from dashboard.verify import create_test_payment
from tests.e2e.conftest import RunningApp, open_app_page, screenshot, wait_idle

pytestmark = pytest.mark.e2e

VERIFY = "/api/v2/payment/verify/"


def _verifies(box: SandboxServer) -> int:
    return sum(1 for _, path in box.request_log if path == VERIFY)


def _main(page: Any) -> Any:
    return page.locator('[data-testid="stMain"]')


def _open_verify(page: Any, app: RunningApp) -> None:
    # The root first: on a server that has not yet run app.py, Streamlit resolves a deep
    # link against the pages/ folder instead of st.navigation (reported to the app shell).
    open_app_page(page, app)
    open_app_page(page, app, "verify")


def _no_exception(page: Any) -> None:
    problems = page.locator('[data-testid="stException"]')
    assert problems.count() == 0, problems.first.inner_text()


def test_test_payment_verified_end_to_end(
    configured_app: RunningApp, page: Any, tmp_path: Path
) -> None:
    box: SandboxServer = configured_app.extras["test_box"]
    _open_verify(page, configured_app)
    main = _main(page)
    assert main.locator("h1").first.inner_text() == "Verify payments"

    helper = main.locator('[data-testid="stExpander"]')
    helper.get_by_text("Try it: create a test payment").click()
    helper.get_by_role("textbox", name="Amount (Rs)").fill("250")
    helper.get_by_role("button", name="Create test payment").click()
    wait_idle(page)
    assert "Test payment of Rs 250.00 made" in main.inner_text()
    token = main.get_by_role("textbox", name="Payment token or transaction ID").input_value()
    assert len(token) >= 10

    main.get_by_role("button", name="Check status").click()
    wait_idle(page)
    assert "Hold: verify it first" in main.inner_text()

    before = _verifies(box)
    main.get_by_role("button", name="Verify and complete…").click()
    wait_idle(page)
    assert "Verify and complete Rs 250.00?" in main.inner_text()
    assert _verifies(box) == before
    screenshot(page, "verify-confirm")

    # An impatient double click on the confirmation still sends one verification.
    main.get_by_role("button", name="Yes, verify Rs 250.00").dblclick()
    wait_idle(page)
    page.wait_for_timeout(500)
    wait_idle(page)
    _no_exception(page)
    text = main.inner_text()
    assert "Deliver" in text
    assert "Verified: Khalti completed this payment of Rs 250.00." in text
    assert "Amount Khalti verified" in text
    assert _verifies(box) == before + 1
    screenshot(page, "verify-deliver")

    with page.expect_download() as download:
        main.get_by_role("button", name="Download slip").click()
    slip = Path(download.value.path()).read_text()
    for expected in (token, "Rs 250.00", "Deliver", "Completed", "E2E tester", "NPT"):
        assert expected in slip

    # Asking again is refused before anything is sent.
    main.get_by_role("button", name="Verify and complete…").click()
    wait_idle(page)
    main.get_by_role("button", name="Yes, verify Rs 250.00").click()
    wait_idle(page)
    assert "already verified" in main.inner_text()
    assert _verifies(box) == before + 1

    page.get_by_role("tab", name="Audit log").click()
    wait_idle(page)
    log = main.locator('[data-testid="stDataFrame"]').last
    log.wait_for()
    screenshot(page, "verify-audit-log")


def test_live_verification_needs_the_amount_typed(configured_app: RunningApp, page: Any) -> None:
    box: SandboxServer = configured_app.extras["live_box"]
    with KhaltiClient(box.secret_key, base_url=box.url, public_key=box.public_key) as client:
        token = create_test_payment(client, 120000).token
    _open_verify(page, configured_app)
    page.locator('[data-testid="stSidebar"]').get_by_role("radio", name="Live").click()
    wait_idle(page)
    main = _main(page)
    assert "LIVE" in main.locator("h1").first.inner_text()
    assert main.locator('[data-testid="stExpander"]').count() == 0  # no test payments

    main.get_by_role("textbox", name="Payment token or transaction ID").fill(token)
    main.get_by_role("textbox", name="Amount (Rs)").fill("1,200")
    main.get_by_role("textbox", name="Amount (Rs)").press("Enter")
    wait_idle(page)
    main.get_by_role("button", name="Verify and complete…").click()
    wait_idle(page)
    before = _verifies(box)
    main.get_by_role("button", name="Yes, verify Rs 1,200.00").click()
    wait_idle(page)
    assert "Type the amount exactly (1200.00)" in main.inner_text()
    assert _verifies(box) == before
    screenshot(page, "verify-live-confirm")

    typed = main.get_by_role("textbox", name="To confirm, type the amount in rupees")
    typed.fill("1200")
    typed.press("Enter")
    wait_idle(page)
    main.get_by_role("button", name="Yes, verify Rs 1,200.00").click()
    wait_idle(page)
    assert "Verified: Khalti completed this payment of Rs 1,200.00." in main.inner_text()
    assert _verifies(box) == before + 1
