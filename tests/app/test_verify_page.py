"""The Verify page as staff use it, against a real sandbox over HTTP.

Each test runs the page with its own sandbox and database. The sandbox's request log
shows exactly what reached "Khalti": bad input must send nothing, and a verification
must be sent once however often it is clicked.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.khalti import KhaltiClient
from dashboard.sandbox import SandboxServer
from dashboard.store import Store
from dashboard.verify import create_test_payment
from tests.verify.lossy import LossyRelay

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "verify.py")
STATUS = "/api/v2/payment/status/"
VERIFY = "/api/v2/payment/verify/"
LOOKUP = "/api/v2/epayment/lookup/"
DETAIL = "/api/v2/merchant-transaction/"


@dataclass
class Desk:
    """The page under test, its sandbox and the database it writes to."""

    app: AppTest
    sandbox: SandboxServer
    db_url: str

    def run(self) -> AppTest:
        self.app.run()
        assert not self.app.exception, self.app.exception
        return self.app

    def requests(self, path: str = "") -> list[tuple[str, str]]:
        return [entry for entry in self.sandbox.request_log if entry[1].startswith(path)]

    def audit(self, mode: str = "test") -> pd.DataFrame:
        with Store(self.db_url) as store:
            return store.list_audit(mode)

    def type(self, key: str, value: str) -> None:
        self.app.text_input(key=key).set_value(value)

    def click(self, key: str) -> AppTest:
        self.app.button(key=key).click()
        return self.run()

    def verdicts(self) -> list[tuple[str, str]]:
        """(colour, text) of every verdict box on the page."""
        found = []
        for colour, alerts in (
            ("green", self.app.success),
            ("amber", self.app.warning),
            ("red", self.app.error),
        ):
            found += [(colour, alert.value) for alert in alerts if alert.value.startswith("###")]
        return found

    def errors(self) -> list[str]:
        return [alert.value for alert in self.app.error if not alert.value.startswith("###")]

    def check(self, token: str, amount: str) -> AppTest:
        self.type("vf_token", token)
        self.type("vf_amount", amount)
        return self.click("vf_check")


def _desk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: SandboxServer, *, live: bool
) -> Desk:
    db_url = f"sqlite:///{tmp_path / 'desk.sqlite3'}"
    env = {
        "KHALTI_SECRETS_FILE": str(tmp_path / "no-secrets.toml"),
        "KHALTI_DASHBOARD_DB": db_url,
        "KHALTI_OPERATOR_NAME": "Counter 2",
        "KHALTI_SYNC_INTERVAL_MINUTES": "0",
    }
    prefix = "KHALTI_LIVE" if live else "KHALTI_TEST"
    env[f"{prefix}_SECRET_KEY"] = sandbox.secret_key
    env[f"{prefix}_PUBLIC_KEY"] = sandbox.public_key
    env[f"{prefix}_BASE_URL"] = sandbox.url
    for name in [name for name in os.environ if name.startswith("KHALTI_")]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = AppTest.from_file(PAGE, default_timeout=30)
    if live:
        app.session_state["mode"] = "live"
    return Desk(app, sandbox, db_url)


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(records=300, seed=23) as server:
        yield server


@pytest.fixture
def desk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: SandboxServer) -> Desk:
    desk = _desk(monkeypatch, tmp_path, sandbox, live=False)
    desk.run()
    return desk


@pytest.fixture
def live_desk(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Desk]:
    key = f"live_secret_key_{secrets.token_hex(16)}"
    public = f"live_public_key_{secrets.token_hex(16)}"
    with SandboxServer(records=300, seed=29, secret_key=key, public_key=public) as server:
        desk = _desk(monkeypatch, tmp_path, server, live=True)
        desk.run()
        yield desk


def _rupees(paisa: int) -> str:
    return f"{paisa / 100:.2f}"


# -- opening the page ------------------------------------------------------------------


def test_page_opens_without_asking_khalti_anything(desk: Desk) -> None:
    app = desk.app
    assert [tab.label for tab in app.tabs] == [
        "Check payment",
        "ePayment lookup",
        "Find payment",
        "Bulk check",
        "Audit log",
    ]
    assert app.title[0].value == "Verify payments"
    assert app.sidebar.text_input(key="vf_operator").value == "Counter 2"
    assert any("No checks are recorded" in info.value for info in app.info)
    assert desk.requests() == []
    assert not desk.verdicts() and not desk.errors()


def test_link_from_transactions_prefills_without_sending(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: SandboxServer
) -> None:
    desk = _desk(monkeypatch, tmp_path, sandbox, live=False)
    desk.app.query_params["idx"] = "8xmeJnNXfoVjCvGcZiiGe7"
    desk.app.query_params["amount"] = "1,500"
    app = desk.run()
    assert app.text_input(key="vf_token").value == "8xmeJnNXfoVjCvGcZiiGe7"
    assert app.text_input(key="vf_amount").value == "1,500"
    assert app.text_input(key="vf_find").value == "8xmeJnNXfoVjCvGcZiiGe7"
    # What staff type afterwards is kept on the next rerun.
    desk.type("vf_amount", "1,600")
    assert desk.run().text_input(key="vf_amount").value == "1,600"
    assert desk.requests() == []


# -- status check ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "colour", "headline"),
    [
        ("Complete", "green", "Deliver"),
        ("Confirmed", "amber", "Hold: verify it first"),
        ("Initiated", "red", "Do not deliver yet"),
        ("Refunded", "red", "Do not deliver"),
        ("Partially refunded", "amber", "Hold and contact Khalti"),
        ("Failed", "red", "Do not deliver"),
    ],
)
def test_status_check_shows_every_verdict(
    desk: Desk, state: str, colour: str, headline: str
) -> None:
    token, paisa = desk.sandbox.demo_tokens[state]
    app = desk.check(token, _rupees(paisa))
    ((shown_colour, text),) = desk.verdicts()
    assert shown_colour == colour
    assert text.splitlines()[0] == f"### {headline}"
    assert any(f"Khalti's state: **{state}**" in c.value for c in app.caption)
    assert len(desk.requests(STATUS)) == 1 and len(desk.requests()) == 1
    audit = desk.audit()
    assert audit[
        ["action", "reference", "amount_paisa", "khalti_state", "operator"]
    ].values.tolist() == [["status_check", token, paisa, state, "Counter 2"]]
    assert app.get("download_button")  # the slip
    confirm_hint = any("can be completed here" in info.value for info in app.info)
    assert confirm_hint == (state == "Confirmed")


def test_wrong_amount_is_the_error_row(desk: Desk) -> None:
    token, paisa = desk.sandbox.demo_tokens["Complete"]
    desk.check(token, _rupees(paisa + 100))
    ((colour, text),) = desk.verdicts()
    assert colour == "red" and text.startswith("### Do not deliver")
    assert "Check that the amount is exactly what the customer paid" in text


def test_changing_the_token_hides_the_old_verdict(desk: Desk) -> None:
    token, paisa = desk.sandbox.demo_tokens["Complete"]
    desk.check(token, _rupees(paisa))
    assert desk.verdicts()
    desk.type("vf_token", desk.sandbox.demo_tokens["Failed"][0])
    desk.run()
    assert desk.verdicts() == []


BAD_INPUTS = [
    ("", "1500", "Enter the payment token"),
    ("   ", "1500", "Enter the payment token"),
    ("abc", "1500", "10 to 64 letters and digits"),
    ("8xmeJnNX foVjCvGcZiiGe7", "1500", "10 to 64 letters and digits"),
    ("8xmeJnNXfoVjCvGcZiiGe7", "", "Enter an amount"),
    ("8xmeJnNXfoVjCvGcZiiGe7", "1,00,000.505", "at most two decimals"),
    ("8xmeJnNXfoVjCvGcZiiGe7", "-5", "more than zero"),
    ("8xmeJnNXfoVjCvGcZiiGe7", "fifteen", "not an amount"),
    ("8xmeJnNXfoVjCvGcZiiGe7", "99999999999", "larger than any single payment"),
]


@pytest.mark.parametrize("button", ["vf_check", "vf_verify"])
@pytest.mark.parametrize(("token", "amount", "message"), BAD_INPUTS)
def test_bad_input_is_explained_and_sends_nothing(
    desk: Desk, button: str, token: str, amount: str, message: str
) -> None:
    desk.type("vf_token", token)
    desk.type("vf_amount", amount)
    app = desk.click(button)
    assert any(message in error for error in desk.errors()), desk.errors()
    assert not _has(app, "vf_confirm")
    assert desk.requests() == []
    assert desk.audit().empty


def _has(app: AppTest, key: str) -> bool:
    try:
        app.button(key=key)
    except KeyError:
        return False
    return True


def test_both_problems_are_named_at_once(desk: Desk) -> None:
    desk.type("vf_token", "abc")
    desk.type("vf_amount", "-5")
    desk.click("vf_check")
    (error,) = desk.errors()
    assert "letters and digits" in error and "more than zero" in error


# -- verify and complete ---------------------------------------------------------------


def _create_test_payment(desk: Desk, rupees: str = "250") -> tuple[str, str]:
    app = desk.app
    app.text_input(key="vf_test_amount").set_value(rupees)
    app.selectbox(key="vf_test_payer").set_value("9800000004")
    desk.click("vf_test_create")
    assert any("Test payment of" in s.value for s in app.success)
    return app.text_input(key="vf_token").value, app.text_input(key="vf_amount").value


def test_verify_end_to_end_is_sent_exactly_once(desk: Desk) -> None:
    token, amount = _create_test_payment(desk)
    assert amount == "250.00"
    app = desk.click("vf_check")
    assert desk.verdicts()[0][1].startswith("### Hold: verify it first")

    app = desk.click("vf_verify")
    assert desk.requests(VERIFY) == []
    assert any(m.value == "#### Verify and complete Rs 250.00?" for m in app.markdown)
    assert any("test mode — no real money" in m.value for m in app.markdown)
    confirm = app.button(key="vf_confirm")
    assert confirm.label == "Yes, verify Rs 250.00"

    confirm.click()
    app = desk.run()
    ((colour, text),) = desk.verdicts()
    assert colour == "green" and text.startswith("### Deliver")
    assert "Verified: Khalti completed this payment of Rs 250.00." in text
    metrics = {m.label: m.value for m in app.metric}
    assert metrics == {"Amount entered": "Rs 250.00", "Amount Khalti verified": "Rs 250.00"}
    assert len(desk.requests(VERIFY)) == 1
    assert not _has(app, "vf_confirm")

    # A second click on the same confirm button, and plain reruns, send nothing.
    confirm.click()
    desk.run()
    desk.run()
    assert len(desk.requests(VERIFY)) == 1

    # Asking again goes as far as the store's guard, which refuses.
    desk.click("vf_verify")
    desk.click("vf_confirm")
    assert len(desk.requests(VERIFY)) == 1
    notices = [w.value for w in desk.app.warning if "already verified" in w.value]
    assert len(notices) == 1 and "Nothing was sent again" in notices[0]
    audit = desk.audit()
    assert sorted(audit["action"]) == ["status_check", "verify"]
    assert audit.loc[audit["action"] == "verify", "verdict"].tolist() == ["Deliver"]
    assert token in audit["reference"].tolist()


def test_cancel_sends_nothing(desk: Desk) -> None:
    _create_test_payment(desk)
    desk.click("vf_verify")
    app = desk.click("vf_cancel")
    assert not _has(app, "vf_confirm")
    desk.run()
    assert desk.requests(VERIFY) == []
    assert desk.audit().empty


def test_changing_the_amount_withdraws_the_confirmation(desk: Desk) -> None:
    _create_test_payment(desk)
    desk.click("vf_verify")
    desk.type("vf_amount", "300")
    app = desk.run()
    assert not _has(app, "vf_confirm")
    assert desk.requests(VERIFY) == []


def test_refused_verification_says_nothing_was_charged(desk: Desk) -> None:
    token, paisa = desk.sandbox.demo_tokens["Initiated"]
    desk.type("vf_token", token)
    desk.type("vf_amount", _rupees(paisa))
    desk.click("vf_verify")
    desk.click("vf_confirm")
    ((colour, text),) = desk.verdicts()
    assert colour == "red" and text.startswith("### Not verified")
    assert "not confirmed yet" in text and "Nothing was charged" in text
    assert len(desk.requests(VERIFY)) == 1


def test_lost_answer_is_outcome_unknown_then_settled_by_a_status_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: SandboxServer
) -> None:
    with LossyRelay(sandbox.url, "pass") as relay:
        desk = _desk(monkeypatch, tmp_path, sandbox, live=False)
        monkeypatch.setenv("KHALTI_TEST_BASE_URL", relay.url)
        desk.run()
        _create_test_payment(desk)
        desk.click("vf_verify")
        relay.mode = "forward"
        desk.click("vf_confirm")
        ((colour, text),) = desk.verdicts()
        assert colour == "amber" and text.startswith("### Outcome unknown: check status")
        assert "may or may not be complete" in text
        assert len(desk.requests(VERIFY)) == 1

        relay.mode = "pass"
        desk.click("vf_recheck")
        ((colour, text),) = desk.verdicts()
        assert colour == "green" and text.startswith("### Deliver")

        desk.click("vf_verify")
        desk.click("vf_confirm")
        assert any("already verified" in w.value for w in desk.app.warning)
        assert len(desk.requests(VERIFY)) == 1
    assert desk.audit()["verdict"].tolist() == ["Deliver", "Outcome unknown"]


def test_live_verification_needs_the_amount_typed(live_desk: Desk) -> None:
    desk = live_desk
    app = desk.app
    assert any("LIVE — real money" in e.value for e in app.error)
    assert app.title[0].value.endswith("Verify payments") and "LIVE" in app.title[0].value
    assert not app.expander  # no test payments in live mode
    token = _paid_by_customer(desk.sandbox, 75050)
    desk.type("vf_token", token)
    desk.type("vf_amount", "750.50")
    app = desk.click("vf_verify")
    assert any("LIVE — real money" in m.value for m in app.markdown)
    typed = app.text_input(key="vf_confirm_typed_live")
    assert typed.placeholder == "750.50"

    for wrong in ("", "750", "750.05"):
        typed.set_value(wrong)
        desk.click("vf_confirm")
        assert any("Type the amount exactly (750.50)" in e for e in desk.errors())
        assert desk.requests(VERIFY) == []

    desk.app.text_input(key="vf_confirm_typed_live").set_value("Rs 750.50")
    desk.click("vf_confirm")
    ((colour, text),) = desk.verdicts()
    assert colour == "green" and "Rs 750.50" in text
    assert len(desk.requests(VERIFY)) == 1
    assert desk.audit("live")["action"].tolist() == ["verify"]
    assert desk.audit("test").empty


def _paid_by_customer(sandbox: SandboxServer, paisa: int) -> str:
    """A checkout payment the customer has confirmed, made as the customer's app would."""
    client = KhaltiClient(sandbox.secret_key, base_url=sandbox.url, public_key=sandbox.public_key)
    with client:
        return create_test_payment(client, paisa).token


# -- ePayment lookup -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "colour", "headline"),
    [
        ("Completed", "green", "Deliver"),
        ("Pending", "amber", "Hold and contact Khalti"),
        ("Initiated", "red", "Do not deliver yet"),
        ("Refunded", "red", "Do not deliver"),
        ("Partially refunded", "amber", "Hold and contact Khalti"),
        ("Expired", "red", "Do not deliver"),
        ("User canceled", "red", "Do not deliver"),
    ],
)
def test_lookup_shows_every_verdict(desk: Desk, status: str, colour: str, headline: str) -> None:
    desk.type("vf_pidx", f"  {desk.sandbox.demo_pidx[status]} ")
    app = desk.click("vf_lookup")
    ((shown, text),) = desk.verdicts()
    assert (shown, text.splitlines()[0]) == (colour, f"### {headline}")
    metrics = {m.label for m in app.metric}
    assert {"Total amount", "Fee"} <= metrics
    assert len(desk.requests(LOOKUP)) == 1
    assert desk.audit()["action"].tolist() == ["lookup"]


def test_lookup_of_unknown_pidx(desk: Desk) -> None:
    desk.type("vf_pidx", "NoSuchPidx000000000000")
    desk.click("vf_lookup")
    ((colour, text),) = desk.verdicts()
    assert colour == "red" and "no ePayment with this pidx" in text


@pytest.mark.parametrize("pidx", ["", "short", "bZQLD9wRVWo4CdESSfuSsB?x=1"])
def test_bad_pidx_sends_nothing(desk: Desk, pidx: str) -> None:
    desk.type("vf_pidx", pidx)
    desk.click("vf_lookup")
    assert any("pidx" in error for error in desk.errors())
    assert desk.requests() == [] and desk.audit().empty


# -- find payment ------------------------------------------------------------------------


def test_find_fetch_check_and_refresh(desk: Desk) -> None:
    sandbox = desk.sandbox
    (idx,) = sandbox.add_payments(1, state="Completed", amount=43210)
    desk.type("vf_find", idx)
    app = desk.run()
    assert any("No payment here matches" in info.value for info in app.info)
    assert desk.requests() == []

    app = desk.click("vf_fetch")
    assert len(desk.requests(DETAIL)) == 1
    assert any("has been added" in info.value for info in app.info)
    assert desk.verdicts()[0][1].startswith("### Deliver")

    desk.type("vf_find", sandbox.record(idx)["user"]["mobile"])
    app = desk.run()
    assert app.selectbox(key="vf_find_pick_test").value == idx
    found = app.dataframe[0].value
    assert idx in found["Transaction ID"].tolist()
    assert app.button(key="vf_find_check").label == "Check status (Rs 432.10)"

    desk.click("vf_find_check")
    assert desk.requests(STATUS) == [("GET", f"{STATUS}?token={idx}&amount=43210")]
    assert desk.verdicts()[0] == ("green", "### Deliver\nKhalti confirms this payment is complete.")

    sandbox.set_state(idx, "Refunded")
    app = desk.click("vf_refresh")
    updates = [info.value for info in app.info if info.value.startswith("Updated from Khalti")]
    assert updates == ["Updated from Khalti. State: Completed → Refunded; Refunded: No → Yes."]
    assert desk.verdicts()[0][0] == "red"
    assert sorted(desk.audit()["action"]) == ["refresh", "refresh", "status_check"]


def test_find_without_matches_and_not_an_idx_offers_no_fetch(desk: Desk) -> None:
    desk.type("vf_find", "Nobody")
    app = desk.run()
    assert not _has(app, "vf_fetch")
    assert desk.requests() == []


# -- bulk check ------------------------------------------------------------------------


def test_bulk_check_with_good_and_bad_rows(desk: Desk) -> None:
    tokens = desk.sandbox.demo_tokens
    rows = [f"{token},{_rupees(paisa)}" for token, paisa in tokens.values()]
    data = "token,amount\n" + "\n".join([*rows, "short,10", rows[0]]) + "\n"
    desk.app.file_uploader(key="vf_bulk_file").upload("orders.csv", data.encode(), "text/csv")
    app = desk.run()
    assert any(f"**{len(tokens)}** rows ready" in m.value for m in app.markdown)
    problems = app.dataframe[0].value
    assert problems["Problem"].tolist()[1] == "Same as line 2; checked there."
    assert desk.requests() == []

    app = desk.click("vf_bulk_run")
    assert len(desk.requests(STATUS)) == len(tokens)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Deliver"] == "1" and metrics["Not checked"] == "2"
    assert sum(int(v) for v in metrics.values()) == len(tokens) + 2
    assert app.download_button(key="vf_bulk_download").label == "Download results (CSV)"
    audit = desk.audit()
    assert len(audit) == len(tokens) and set(audit["action"]) == {"bulk_status"}

    desk.run()  # the results stay; nothing is sent again
    assert len(desk.requests(STATUS)) == len(tokens)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x03\x04" + b"\x00" * 64, "Excel workbook"),
        (b"", "empty"),
        (b"order,customer\nA-1,Sita\n", "must name the columns"),
    ],
)
def test_bulk_bad_file(desk: Desk, data: bytes, message: str) -> None:
    desk.app.file_uploader(key="vf_bulk_file").upload("orders.csv", data, "text/csv")
    desk.run()
    assert any(message in error for error in desk.errors())
    assert not _has(desk.app, "vf_bulk_run")
    assert desk.requests() == []


# -- audit log and who did it ------------------------------------------------------------


def test_audit_log_has_one_row_per_action_and_filters(desk: Desk) -> None:
    sandbox = desk.sandbox
    desk.app.sidebar.text_input(key="vf_operator").set_value("Hari")
    token, paisa = sandbox.demo_tokens["Complete"]
    desk.check(token, _rupees(paisa))
    desk.check(*_split(sandbox.demo_tokens["Failed"]))
    desk.type("vf_pidx", sandbox.demo_pidx["Pending"])
    app = desk.click("vf_lookup")

    log = app.dataframe[-1].value
    assert len(log) == 3
    assert log["Action"].tolist() == ["ePayment lookup", "Status check", "Status check"]
    assert set(log["By"]) == {"Hari"}
    assert log["Verdict"].tolist() == ["Hold", "Do not deliver", "Deliver"]

    app.selectbox(key="vf_audit_action").set_value("lookup")
    app = desk.run()
    assert app.dataframe[-1].value["Reference"].tolist() == [sandbox.demo_pidx["Pending"]]
    app.selectbox(key="vf_audit_action").set_value("")
    app.selectbox(key="vf_audit_verdict").set_value("Deliver")
    app = desk.run()
    assert app.dataframe[-1].value["Reference"].tolist() == [token]
    app.text_input(key="vf_audit_search").set_value("nobody-like-this")
    app = desk.run()
    assert any("No checks are recorded for these filters" in i.value for i in app.info)
    assert app.download_button  # samples remain; the log export needs rows
    assert not _has_download(app, "vf_audit_download")


def _split(pair: tuple[str, int]) -> tuple[str, str]:
    return pair[0], _rupees(pair[1])


def _has_download(app: AppTest, key: str) -> bool:
    return any(button.key == key for button in app.download_button)


def test_signed_in_user_is_the_operator(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: SandboxServer
) -> None:
    desk = _desk(monkeypatch, tmp_path, sandbox, live=False)
    desk.app.user = {"is_logged_in": True, "name": "Gita Thapa", "email": "gita@example.com"}
    app = desk.run()
    assert not app.sidebar.text_input
    assert any("Gita Thapa" in c.value for c in app.sidebar.caption)
    desk.check(*_split(sandbox.demo_tokens["Complete"]))
    assert desk.audit()["operator"].tolist() == ["Gita Thapa"]


def test_an_empty_name_falls_back_to_the_configured_one(desk: Desk) -> None:
    desk.app.sidebar.text_input(key="vf_operator").set_value("   ")
    desk.check(*_split(desk.sandbox.demo_tokens["Complete"]))
    assert desk.audit()["operator"].tolist() == ["Counter 2"]


def test_page_is_reachable_from_the_app(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sandbox: SandboxServer
) -> None:
    _desk(monkeypatch, tmp_path, sandbox, live=False)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    app.switch_page("pages/verify.py").run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Verify payments"
    assert app.tabs[0].label == "Check payment"
