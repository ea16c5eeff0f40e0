"""The app shell: the Test/Live switch, the live banner, the demo, sync, and key hygiene."""

from __future__ import annotations

from typing import Any

from dashboard.config import load_settings
from dashboard.demo import start_demo
from dashboard.money import format_npr, group_nepali
from dashboard.nptime import preset_range, today_npt
from dashboard.store import Store, TxFilter
from tests.app.conftest import LIVE_SECRET, TEST_SECRET, Env, new_app, open_page, texts

LIVE_BANNER = "LIVE — real money"


def mode_control(at: Any) -> Any:
    return at.segmented_control(key="mode")


def summary(env: Env, mode: str) -> str:
    first, last = preset_range("Last 30 days", today_npt())
    count, total = env.store.transactions_summary(mode, TxFilter(first_day=first, last_day=last))
    return f"**{group_nepali(count)}** payments totalling **{format_npr(total)}**"


def test_demo_starts_the_builtin_sandbox_and_says_so(demo: None) -> None:
    at = open_page(new_app(), "overview")
    assert "built-in offline Khalti sandbox" in at.info[0].value
    assert at.title[0].value == "Overview"
    assert len(at.metric) == 8
    assert any(m.label == "Gross volume" and m.value.startswith("Rs ") for m in at.metric)
    # Every page carries the notice, not only the first one.
    open_page(at, "settings")
    assert "built-in offline Khalti sandbox" in at.info[0].value
    assert "Ready: the built-in offline sandbox" in texts(at) + at.success[0].value


def test_live_is_disabled_with_its_reason_when_not_configured(test_only: Env) -> None:
    at = open_page(new_app(), "overview")
    control = mode_control(at)
    assert control.value == "test"
    assert control.proto.disabled
    reasons = [c.value for c in at.sidebar.caption]
    assert any("Live is off" in r and "KHALTI_LIVE_SECRET_KEY" in r for r in reasons)
    assert LIVE_BANNER not in texts(at)


def test_live_banner_and_marker_only_in_live(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    assert not mode_control(at).proto.disabled
    assert LIVE_BANNER not in texts(at)
    assert at.title[0].value == "Overview"

    mode_control(at).set_value("live").run()
    assert at.error[0].value.startswith(f"**{LIVE_BANNER}.**")
    assert at.title[0].value == "🔴 LIVE · Overview"
    assert any("LIVE — real money" in m.value for m in at.sidebar.markdown)

    for page in ("transactions", "settings", "verify"):
        open_page(at, page)
        assert LIVE_BANNER in texts(at), page
        assert at.title[0].value.startswith("🔴 LIVE · "), page

    mode_control(at).set_value("test").run()
    assert LIVE_BANNER not in texts(at)
    assert not at.title[0].value.startswith("🔴")


def test_switching_modes_never_shows_the_other_modes_data(configured: Env) -> None:
    test_line, live_line = summary(configured, "test"), summary(configured, "live")
    assert test_line != live_line
    at = open_page(new_app(), "transactions")
    assert test_line in texts(at) and live_line not in texts(at)
    test_rows = at.dataframe[0].value

    mode_control(at).set_value("live").run()
    # The very first run after the switch already shows live data only.
    assert live_line in texts(at) and test_line not in texts(at)
    live_ids = set(at.dataframe[0].value["Transaction ID"])
    assert not live_ids & set(test_rows["Transaction ID"])
    assert live_ids <= configured.store.all_idxs("live")

    mode_control(at).set_value("test").run()
    assert test_line in texts(at) and live_line not in texts(at)


def test_live_falls_back_to_test_when_its_key_goes_away(configured: Env, monkeypatch: Any) -> None:
    at = open_page(new_app(), "overview")
    mode_control(at).set_value("live").run()
    assert LIVE_BANNER in texts(at)
    monkeypatch.delenv("KHALTI_LIVE_SECRET_KEY")
    at.run()
    assert mode_control(at).value == "test"
    assert LIVE_BANNER not in texts(at)
    assert mode_control(at).proto.disabled


def test_secret_keys_are_never_rendered_or_kept_in_session(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    mode_control(at).set_value("live").run()
    for page in ("overview", "transactions", "settings", "verify"):
        open_page(at, page)
        shown = repr([node for node in at])  # every element's protobuf, as text
        for secret in (TEST_SECRET, LIVE_SECRET):
            assert secret not in shown, page
            assert secret[-32:] not in shown, page
        stored = repr({key: at.session_state[key] for key in at.session_state})
        assert TEST_SECRET not in stored and LIVE_SECRET not in stored


def test_sync_now_fetches_new_payments_with_progress(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    assert any("Test data synced" in c.value for c in at.sidebar.caption)
    before = configured.store.count("test")
    configured.boxes["test"].add_payments(3)
    at.sidebar.button(key="sync_now_test").click().run()
    assert configured.store.count("test") == before + 3
    assert any("3 new" in t.value for t in at.toast)
    assert not at.sidebar.error


def test_sync_failure_is_explained_not_shown_as_success(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    box = configured.boxes["test"]
    box.add_payments(60)  # enough to need a second page, which will fail
    box.fail_pages.add(2)
    try:
        at.sidebar.button(key="sync_now_test").click().run()
    finally:
        box.fail_pages.clear()
    assert "Could not read page 2" in at.sidebar.error[0].value
    assert not at.toast


def test_demo_bootstrap_starts_sandbox_and_syncs(tmp_path: Any) -> None:
    db_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    steps: list[Any] = []
    demo_env = start_demo(records=150, db_url=db_url, progress=steps.append)
    try:
        assert demo_env.first_sync.ok
        assert steps and steps[-1].records >= 150
        with Store(db_url) as store:
            assert store.count("test") == 150
            assert store.count("live") == 0
        settings = demo_env.apply(load_settings({}, tmp_path / "none.toml"))
        config = settings.require("test")
        assert config.is_demo and settings.demo
        assert config.base_url == demo_env.server.url
        assert settings.db_url == db_url
        assert "live" not in settings.modes
    finally:
        demo_env.server.stop()
