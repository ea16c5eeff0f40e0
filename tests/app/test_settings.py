"""Settings page: what is configured, masked; problems as warnings; how to configure."""

from __future__ import annotations

import tomllib
from typing import Any

from dashboard.config import SETTING_NAMES
from dashboard.ui.settings_panel import EXAMPLE_FILE, masked_public_key, masked_url
from tests.app.conftest import LIVE_SECRET, ROOT, TEST_SECRET, Env, new_app, open_page, texts


def shown_rows(at: Any) -> list[tuple[str, str]]:
    return [(str(k), str(v)) for t in at.table for k, v in t.value.to_numpy()[:, :2].tolist()]


def test_each_mode_with_masked_keys(configured: Env) -> None:
    at = open_page(new_app(), "settings")
    rows = shown_rows(at)
    text = texts(at) + repr(rows)
    assert "Test mode" in text and "Live mode" in text
    assert f"test_secret_key_…{TEST_SECRET[-4:]}" in text
    assert TEST_SECRET not in text and LIVE_SECRET not in text
    assert configured.boxes["test"].url in text
    assert configured.boxes["live"].url in text
    assert "real Khalti data" in text
    assert ("Secret key", f"live_secret_key_…{LIVE_SECRET[-4:]}") in rows
    assert ("Database", configured.db_url) in rows
    assert ("Operator name (audit trail)", "AppTest") in rows


def test_unconfigured_live_says_why(test_only: Env) -> None:
    at = open_page(new_app(), "settings")
    assert any(
        "Not available" in w.value and "KHALTI_LIVE_SECRET_KEY" in w.value for w in at.warning
    )


def test_problems_are_warnings(test_only: Env, monkeypatch: Any) -> None:
    monkeypatch.setenv("KHALTI_SYNC_INTERVAL_MINUTES", "often")
    monkeypatch.setenv("KHALTI_LIVE_SECRET_KEY", "test_secret_key_" + "0" * 32)
    at = open_page(new_app(), "settings")
    warnings = [w.value for w in at.warning]
    assert any("KHALTI_SYNC_INTERVAL_MINUTES must be a whole number" in w for w in warnings)
    assert any("test_ secret key cannot be used in live mode" in w for w in warnings)


def test_settings_page_works_when_the_mode_is_unusable(test_only: Env, monkeypatch: Any) -> None:
    at = open_page(new_app(), "overview")
    monkeypatch.setenv("KHALTI_TEST_SECRET_KEY", "not-a-key")
    open_page(at, "overview")
    assert "Test mode cannot be used" in at.error[0].value
    open_page(at, "settings")
    assert any("KHALTI_TEST_SECRET_KEY" in w.value for w in at.warning)
    assert "How to configure" in texts(at)


def test_how_to_configure_lists_every_setting(demo: None) -> None:
    at = open_page(new_app(), "settings")
    skeleton = at.code[0].value
    assert [line.split(" = ")[0] for line in skeleton.splitlines()] == list(SETTING_NAMES)
    assert EXAMPLE_FILE.as_posix() in texts(at)


def test_example_secrets_file_is_flat_and_complete() -> None:
    with (ROOT / EXAMPLE_FILE).open("rb") as handle:
        example = tomllib.load(handle)
    assert set(example) == set(SETTING_NAMES)
    assert all(not isinstance(v, dict) for v in example.values())


def test_masking_helpers() -> None:
    url = "postgresql+psycopg://khalti:s3cret@db.example.com:5432/khalti"
    assert masked_url(url) == "postgresql+psycopg://khalti:***@db.example.com:5432/khalti"
    assert masked_url("sqlite:////tmp/x.sqlite3") == "sqlite:////tmp/x.sqlite3"
    assert masked_public_key("test_public_key_" + "ab" * 16) == "test_public_key_…abab"
    assert "not set" in masked_public_key(None)
