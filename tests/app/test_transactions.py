"""Transactions page: filters, paging, row detail (real detail call), exports."""

from __future__ import annotations

from typing import Any

import pandas as pd

from dashboard.money import format_npr, group_nepali, parse_rupees, rupees_text
from dashboard.nptime import preset_range, today_npt
from dashboard.sandbox import SandboxServer
from dashboard.store import TxFilter
from dashboard.ui.tables import npt_text
from tests.app.conftest import Env, new_app, open_page, texts


def last_30_days(**criteria: Any) -> TxFilter:
    first, last = preset_range("Last 30 days", today_npt())
    return TxFilter(first_day=first, last_day=last, **criteria)


def summary_line(env: Env, f: TxFilter, mode: str = "test") -> str:
    count, total = env.store.transactions_summary(mode, f)
    return f"**{group_nepali(count)}** payments totalling **{format_npr(total)}**"


def table(at: Any) -> pd.DataFrame:
    return at.dataframe[0].value


def table_key(at: Any) -> str:
    return at.dataframe[0].proto.id.split("-", 2)[-1]


def test_default_view_is_last_30_days_newest_first(configured: Env) -> None:
    at = open_page(new_app(), "transactions")
    f = last_30_days()
    assert summary_line(configured, f) in texts(at)
    expected = configured.store.transactions_page("test", f, limit=50)
    shown = table(at)
    assert list(shown["Transaction ID"]) == list(expected["idx"])
    assert shown.columns[0] == "Time (NPT)"
    assert shown["Time (NPT)"].iloc[0] == npt_text(expected["created_on"].iloc[0])
    assert shown["Amount"].iloc[0] == format_npr(int(expected["amount"].iloc[0]))
    assert list(shown["Time (NPT)"]) == sorted(shown["Time (NPT)"], reverse=True)


def test_state_and_type_filters(configured: Env) -> None:
    at = open_page(new_app(), "transactions")
    at.multiselect(key="tx_states_test").set_value(["Completed"]).run()
    at.multiselect(key="tx_types_test").set_value(["Wallet payment"]).run()
    f = last_30_days(states=("Completed",), types=("Wallet payment",))
    assert summary_line(configured, f) in texts(at)
    shown = table(at)
    assert set(shown["State"]) == {"Completed"}
    assert set(shown["Type"]) == {"Wallet payment"}


def test_search_finds_a_customer(configured: Env) -> None:
    at = open_page(new_app(), "transactions")
    name = table(at)["Customer"].iloc[3]
    at.text_input(key="tx_search").set_value(name.split()[0]).run()
    shown = table(at)
    assert name in set(shown["Customer"])
    assert summary_line(configured, last_30_days(search=name.split()[0])) in texts(at)


def test_amount_range_in_rupees(configured: Env) -> None:
    at = open_page(new_app(), "transactions")
    at.text_input(key="tx_min").set_value("Rs 1,000").run()
    at.text_input(key="tx_max").set_value("5000.50").run()
    f = last_30_days(min_paisa=100_000, max_paisa=500_050)
    assert summary_line(configured, f) in texts(at)
    expected = configured.store.transactions_page("test", f, limit=50)
    assert list(table(at)["Transaction ID"]) == list(expected["idx"])


def test_bad_amount_is_explained_and_not_applied(configured: Env) -> None:
    at = open_page(new_app(), "transactions")
    at.text_input(key="tx_min").set_value("abc").run()
    assert not at.exception
    assert "Min amount (Rs)" in at.error[0].value and "is not an amount" in at.error[0].value
    assert "not applied" in at.error[0].value
    # Everything else still works: the list shows the whole period.
    assert summary_line(configured, last_30_days()) in texts(at)
    at.text_input(key="tx_min").set_value("900")
    at.text_input(key="tx_max").set_value("100").run()
    assert "larger than max amount" in at.error[0].value


def test_paging_fetches_the_next_50_from_the_store(configured: Env) -> None:
    at = open_page(new_app(), "transactions")
    at.selectbox(key="tx_preset").set_value("Last 90 days").run()
    first, last = preset_range("Last 90 days", today_npt())
    f = TxFilter(first_day=first, last_day=last)
    count, _ = configured.store.transactions_summary("test", f)
    assert count > 100
    assert f"Showing 1–50 of {group_nepali(count)}" in texts(at)
    at.pagination[0].set_value(2).run()
    assert f"Showing 51–100 of {group_nepali(count)}" in texts(at)
    expected = configured.store.transactions_page("test", f, limit=50, offset=50)
    assert list(table(at)["Transaction ID"]) == list(expected["idx"])


def test_selecting_a_row_opens_its_detail(configured: Env) -> None:
    at = open_page(new_app(), "transactions")
    row = table(at).iloc[0]
    at.session_state[table_key(at)] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    idx = row["Transaction ID"]
    record = configured.store.transaction("test", idx)
    assert at.subheader[0].value == f"{format_npr(record['amount'])} · {record['state']}"
    shown = texts(at)
    assert "From Khalti now" in shown and "could not be fetched" not in shown
    tables = [t.value for t in at.table]
    fields = {str(k): str(v) for frame in tables for k, v in frame.to_numpy()[:, :2].tolist()}
    assert fields["Transaction ID"] == idx
    assert fields["State at Khalti"] == configured.boxes["test"].record(idx)["state"]["name"]
    link = at.page_link[0]
    assert link.proto.page.endswith("verify")
    assert f"idx={idx}" in link.proto.query_string
    # Rupees, as the Verify desk's amount box expects them.
    assert f"amount={rupees_text(record['amount'])}" in link.proto.query_string


def test_detail_still_shows_saved_copy_when_khalti_is_unreachable(
    configured: Env, monkeypatch: Any
) -> None:
    with SandboxServer(records=120, seed=9, secret_key=configured.boxes["test"].secret_key) as box:
        monkeypatch.setenv("KHALTI_TEST_BASE_URL", box.url)
        configured.boxes["test"] = box
        configured.store.close()
        with configured.store.__class__(configured.db_url) as store:
            configured.store = store
            configured.sync("test")
    # The sandbox is gone now: Khalti cannot be reached.
    at = open_page(new_app(), "transactions")
    at.selectbox(key="tx_preset").set_value("Last 90 days").run()
    at.session_state[table_key(at)] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception
    assert "could not be fetched" in at.warning[0].value
    assert "Saved copy" in texts(at)
    assert at.table, "the saved copy is still shown"


def test_exports_are_offered_lazily_with_mode_and_range(configured: Env) -> None:
    at = open_page(new_app(), "transactions")
    labels = [b.label for b in at.download_button]
    assert labels == ["Export all as CSV", "Export all as Excel"]
    count, _ = configured.store.transactions_summary("test", last_30_days())
    for button in at.download_button:
        # Deferred: the file is only built when someone clicks.
        assert button.proto.deferred_file_id
        assert f"All {group_nepali(count)} matching payments" in button.help


def test_empty_filter_result_says_so(configured: Env) -> None:
    at = open_page(new_app(), "transactions")
    at.text_input(key="tx_search").set_value("no-such-customer-anywhere").run()
    assert "No payments match these filters" in at.info[0].value
    assert not at.dataframe


def test_verify_link_prefills_the_desk_with_this_payment(configured: Env) -> None:
    at = open_page(new_app(), "transactions")
    at.session_state[table_key(at)] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    idx = table(at)["Transaction ID"].iloc[0]
    amount = configured.store.transaction("test", idx)["amount"]
    for pair in at.page_link[0].proto.query_string.split("&"):
        name, value = pair.split("=", 1)
        at.query_params[name] = value
    open_page(at, "verify")
    assert parse_rupees(at.text_input(key="vf_amount").value) == amount
    assert at.text_input(key="vf_token").value == idx
