"""The verification slip and the audit export hold what a dispute file needs."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

from dashboard.khalti import KhaltiClient
from dashboard.nptime import format_npt
from dashboard.sandbox import SandboxServer
from dashboard.slip import slip_html
from dashboard.store import AuditRecord
from dashboard.verify import audit_csv, check_status, merchant_name_for, verify_checkout
from tests.verify.conftest import OPERATOR
from tests.verify.test_money_guard import _confirmed_payment


def test_slip_for_a_verification(sandbox: SandboxServer, client: KhaltiClient, store) -> None:
    token = _confirmed_payment(client, 123456)
    result = verify_checkout(client, store, "test", token, 123456, OPERATOR)
    entry = store.audit_entry("test", result.audit_id)
    merchant = merchant_name_for(store, "test", entry["raw_response"])
    assert merchant != "Khalti merchant"  # taken from Khalti's verify answer

    html = slip_html(entry, merchant_name=merchant)
    text = re.sub(r"<[^>]+>", " ", html)
    for expected in (
        "Payment verification",
        merchant,
        token,
        "Rs 1,234.56",
        "Deliver",
        "Completed",
        format_npt(entry["at"], seconds=True),
        "Test (no real money)",
        OPERATOR,
        f"#{result.audit_id}",
    ):
        assert expected in text, expected
    # Self-contained: prints and opens offline, years later.
    assert "<script" not in html and "src=" not in html and "href=" not in html
    assert "@media print" in html


def test_slip_escapes_what_it_shows() -> None:
    entry = {
        "id": 7,
        "at": datetime(2025, 1, 1, 6, 15, tzinfo=UTC),
        "mode": "live",
        "action": "status_check",
        "reference": "8xmeJnNXfoVjCvGcZiiGe7",
        "amount_paisa": 100,
        "verdict": "Do not deliver",
        "khalti_state": "Error",
        "operator": "<script>alert(1)</script>",
        "note": None,
    }
    html = slip_html(entry, merchant_name="Ram & Sons <Pvt>")
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "Ram &amp; Sons &lt;Pvt&gt;" in html
    assert "2025-01-01 12:00:00 NPT" in html  # 06:15 UTC is 12:00 in Nepal
    assert "Live (real money)" in html and ">LIVE<" in html


def test_audit_export(sandbox: SandboxServer, client: KhaltiClient, store) -> None:
    token, paisa = sandbox.demo_tokens["Failed"]
    check_status(client, store, "test", token, paisa, OPERATOR)
    store.add_audit(
        AuditRecord(
            mode="test",
            action="lookup",
            reference="bZQLD9wRVWo4CdESSfuSsB",
            amount_paisa=None,
            verdict="Could not check",
            khalti_state=None,
            raw_response=None,
            operator="=cmd|' /C calc'!A0",
            at=datetime.now(UTC),
            note="-2+3",
        )
    )
    frame = store.list_audit("test")
    rows = list(
        csv.DictReader(io.StringIO(audit_csv(frame.to_dict("records")).decode("utf-8-sig")))
    )
    assert [row["action"] for row in rows] == ["ePayment lookup", "Status check"]
    lookup, status = rows
    assert lookup["operator"].startswith("'=cmd") and lookup["note"] == "'-2+3"
    assert lookup["amount_rs"] == "" and lookup["khalti_state"] == ""
    assert status["amount_rs"] == f"{paisa / 100:.2f}"
    assert status["verdict"] == "Do not deliver" and status["khalti_state"] == "Failed"
    assert status["at"].endswith(" NPT") and status["mode"] == "test"
