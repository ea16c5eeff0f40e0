"""Settings: where keys come from, which combinations are refused, and what is reported."""

import shutil
from pathlib import Path

import pytest

from dashboard.config import (
    DEFAULT_DB_URL,
    ConfigError,
    Settings,
    demo_db_url,
    load_settings,
)

TEST_KEY = "test_secret_key_0123456789abcdef0123456789abcdef"
OTHER_TEST_KEY = "test_secret_key_aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbb"
LIVE_KEY = "live_secret_key_fedcba9876543210fedcba9876543210"
OTHER_LIVE_KEY = "live_secret_key_11112222333344445555666677778888"
TEST_PUBLIC = "test_public_key_00001111222233334444555566667777"
LIVE_PUBLIC = "live_public_key_88889999aaaabbbbccccddddeeeeffff"
ALL_KEYS = (TEST_KEY, OTHER_TEST_KEY, LIVE_KEY, OTHER_LIVE_KEY)


def load(
    tmp_path: Path, environ: dict[str, str] | None = None, toml: str | None = None
) -> Settings:
    secrets = tmp_path / "secrets.toml"
    if toml is not None:
        secrets.write_text(toml, encoding="utf-8")
    return load_settings(environ=environ or {}, secrets_file=secrets)


def everything_shown(settings: Settings) -> str:
    """Every text the app might put on screen or in a log about these settings."""
    return "\n".join(
        [*settings.problems, *settings.unavailable.values(), repr(settings), str(settings)]
    )


def assert_no_key_shown(settings: Settings, *keys: str) -> None:
    shown = everything_shown(settings)
    for key in keys or ALL_KEYS:
        assert key not in shown
        assert key[-32:] not in shown


def test_no_keys_means_demo(tmp_path: Path) -> None:
    settings = load(tmp_path)
    assert settings.demo is True
    assert dict(settings.modes) == {}
    assert "no secret key" in settings.unavailable["test"]
    assert "KHALTI_TEST_SECRET_KEY" in settings.unavailable["test"]
    assert "KHALTI_LIVE_SECRET_KEY" in settings.unavailable["live"]
    assert settings.problems == ()
    assert settings.db_url == DEFAULT_DB_URL
    assert settings.operator_name == "Staff"
    assert settings.sync_interval_minutes == 5
    assert settings.sync_recent_days == 7
    assert settings.demo_records == 3000


def test_keys_from_the_environment(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {
            "KHALTI_TEST_SECRET_KEY": TEST_KEY,
            "KHALTI_LIVE_SECRET_KEY": LIVE_KEY,
            "KHALTI_TEST_PUBLIC_KEY": TEST_PUBLIC,
            "KHALTI_LIVE_PUBLIC_KEY": LIVE_PUBLIC,
        },
    )
    assert settings.demo is False
    assert settings.problems == ()
    test, live = settings.require("test"), settings.require("live")
    assert (test.mode, test.base_url, test.is_live, test.is_demo) == (
        "test",
        "https://dev.khalti.com",
        False,
        False,
    )
    assert test.secret_key.reveal() == TEST_KEY
    assert test.public_key == TEST_PUBLIC
    assert (live.mode, live.base_url, live.is_live) == ("live", "https://khalti.com", True)
    assert live.secret_key.reveal() == LIVE_KEY
    assert live.public_key == LIVE_PUBLIC
    assert_no_key_shown(settings)
    assert TEST_KEY not in repr(test) and LIVE_KEY not in repr(live)


def test_secrets_toml_overrides_the_environment(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {
            "KHALTI_TEST_SECRET_KEY": TEST_KEY,
            "KHALTI_LIVE_SECRET_KEY": LIVE_KEY,
            "KHALTI_OPERATOR_NAME": "From env",
        },
        f'KHALTI_TEST_SECRET_KEY = "{OTHER_TEST_KEY}"\nKHALTI_OPERATOR_NAME = "Sita"\n',
    )
    assert settings.require("test").secret_key.reveal() == OTHER_TEST_KEY
    assert settings.operator_name == "Sita"
    # Names the file does not set still come from the environment.
    assert settings.require("live").secret_key.reveal() == LIVE_KEY


def test_a_blank_value_in_secrets_toml_does_not_erase_the_environment(tmp_path: Path) -> None:
    settings = load(
        tmp_path, {"KHALTI_TEST_SECRET_KEY": TEST_KEY}, 'KHALTI_TEST_SECRET_KEY = "  "\n'
    )
    assert settings.require("test").secret_key.reveal() == TEST_KEY


def test_blank_environment_values_count_as_unset(tmp_path: Path) -> None:
    settings = load(tmp_path, {"KHALTI_TEST_SECRET_KEY": "   ", "KHALTI_OPERATOR_NAME": " "})
    assert settings.demo is True
    assert settings.operator_name == "Staff"
    assert settings.problems == ()


def test_secrets_file_from_the_environment(tmp_path: Path) -> None:
    secrets = tmp_path / "elsewhere.toml"
    secrets.write_text(f'KHALTI_TEST_SECRET_KEY = "{TEST_KEY}"\n', encoding="utf-8")
    settings = load_settings(environ={"KHALTI_SECRETS_FILE": str(secrets)})
    assert settings.require("test").secret_key.reveal() == TEST_KEY


def test_a_test_key_is_refused_in_live_mode(tmp_path: Path) -> None:
    settings = load(tmp_path, {"KHALTI_LIVE_SECRET_KEY": TEST_KEY})
    assert "live" not in settings.modes
    assert "test_ secret key cannot be used in live mode" in settings.unavailable["live"]
    assert any("cannot be used in live mode" in p for p in settings.problems)
    with pytest.raises(ConfigError, match="cannot be used in live mode"):
        settings.require("live")
    assert_no_key_shown(settings)


def test_a_test_key_on_the_live_host_is_refused_in_test_mode(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {"KHALTI_TEST_SECRET_KEY": TEST_KEY, "KHALTI_TEST_BASE_URL": "https://khalti.com"},
    )
    assert "test" not in settings.modes
    assert "live service" in settings.unavailable["test"]
    assert "test_ key" in settings.unavailable["test"]
    assert_no_key_shown(settings)


def test_test_mode_never_points_at_the_live_host(tmp_path: Path) -> None:
    # A live_ key on khalti.com moves real money, whatever the mode is called.
    settings = load(
        tmp_path,
        {"KHALTI_TEST_SECRET_KEY": LIVE_KEY, "KHALTI_TEST_BASE_URL": "https://pay.khalti.com/"},
    )
    assert "test" not in settings.modes
    assert "Test mode points at Khalti's live service" in settings.unavailable["test"]
    assert_no_key_shown(settings)


def test_a_live_key_on_the_sandbox_host_is_fine_in_test_mode(tmp_path: Path) -> None:
    # dev.khalti.com issues live_ keys: the prefix alone does not tell the hosts apart.
    settings = load(tmp_path, {"KHALTI_TEST_SECRET_KEY": LIVE_KEY})
    assert settings.require("test").base_url == "https://dev.khalti.com"
    assert settings.problems == ()


@pytest.mark.parametrize("host", ["dev.khalti.com", "test-pay.khalti.com", "DEV.KHALTI.COM"])
def test_live_mode_on_the_sandbox_host_is_refused(tmp_path: Path, host: str) -> None:
    settings = load(
        tmp_path,
        {"KHALTI_LIVE_SECRET_KEY": LIVE_KEY, "KHALTI_LIVE_BASE_URL": f"https://{host}"},
    )
    assert "live" not in settings.modes
    assert "Live mode points at Khalti's sandbox" in settings.unavailable["live"]
    assert any("sandbox" in p for p in settings.problems)


def test_the_sandbox_on_this_computer_is_allowed_over_http(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {"KHALTI_TEST_SECRET_KEY": TEST_KEY, "KHALTI_TEST_BASE_URL": "http://127.0.0.1:8765/"},
    )
    assert settings.require("test").base_url == "http://127.0.0.1:8765"


def test_plain_http_to_another_computer_is_refused(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {"KHALTI_TEST_SECRET_KEY": TEST_KEY, "KHALTI_TEST_BASE_URL": "http://dev.khalti.com"},
    )
    assert "test" not in settings.modes
    assert settings.unavailable["test"].startswith("KHALTI_TEST_BASE_URL: ")
    assert "not encrypted" in settings.unavailable["test"]


def test_a_key_pasted_as_the_base_url_is_not_shown(tmp_path: Path) -> None:
    settings = load(
        tmp_path, {"KHALTI_TEST_SECRET_KEY": TEST_KEY, "KHALTI_TEST_BASE_URL": OTHER_TEST_KEY}
    )
    assert "test" not in settings.modes
    assert "KHALTI_TEST_BASE_URL" in settings.unavailable["test"]
    assert_no_key_shown(settings)


@pytest.mark.parametrize(
    "bad",
    [
        TEST_KEY[:-1],  # one character short
        TEST_KEY + "0",
        TEST_KEY.upper(),
        TEST_PUBLIC,  # a public key where the secret key belongs
        f"Key {TEST_KEY}",
        "test_secret_key_0123456789abcdef0123456789abcdeZ",
    ],
)
def test_a_bad_key_shape_is_reported_without_the_key(tmp_path: Path, bad: str) -> None:
    settings = load(tmp_path, {"KHALTI_TEST_SECRET_KEY": bad})
    assert "test" not in settings.modes
    assert settings.demo is False  # a key was configured: a typo must not start the demo
    assert settings.unavailable["test"].startswith("KHALTI_TEST_SECRET_KEY: ")
    assert "32 hexadecimal characters" in settings.unavailable["test"]
    assert settings.problems == (settings.unavailable["test"],)
    shown = everything_shown(settings)
    assert bad not in shown
    assert "0123456789abcdef0123456789abcde" not in shown
    assert "00001111222233334444555566667777" not in shown


def test_the_same_key_in_both_modes_turns_live_off(tmp_path: Path) -> None:
    settings = load(
        tmp_path, {"KHALTI_TEST_SECRET_KEY": LIVE_KEY, "KHALTI_LIVE_SECRET_KEY": LIVE_KEY}
    )
    assert "test" in settings.modes
    assert "live" not in settings.modes
    assert "same key" in settings.unavailable["live"]
    assert any("same secret key" in p for p in settings.problems)
    assert_no_key_shown(settings)


def test_different_keys_in_both_modes(tmp_path: Path) -> None:
    settings = load(
        tmp_path, {"KHALTI_TEST_SECRET_KEY": LIVE_KEY, "KHALTI_LIVE_SECRET_KEY": OTHER_LIVE_KEY}
    )
    assert set(settings.modes) == {"test", "live"}


def test_public_keys_are_checked_and_never_echoed(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        {
            "KHALTI_TEST_SECRET_KEY": TEST_KEY,
            # A secret key here would be sent in request bodies meant for browsers.
            "KHALTI_TEST_PUBLIC_KEY": OTHER_TEST_KEY,
            "KHALTI_LIVE_SECRET_KEY": LIVE_KEY,
            "KHALTI_LIVE_PUBLIC_KEY": "not-a-key",
        },
    )
    assert settings.require("test").public_key is None
    assert settings.require("live").public_key is None
    problems = " ".join(settings.problems)
    assert "KHALTI_TEST_PUBLIC_KEY holds a secret key" in problems
    assert "KHALTI_LIVE_PUBLIC_KEY is not a Khalti public key" in problems
    assert_no_key_shown(settings)


def test_a_test_public_key_is_not_used_in_live_mode(tmp_path: Path) -> None:
    settings = load(
        tmp_path, {"KHALTI_LIVE_SECRET_KEY": LIVE_KEY, "KHALTI_LIVE_PUBLIC_KEY": TEST_PUBLIC}
    )
    assert settings.require("live").public_key is None
    assert any("KHALTI_LIVE_PUBLIC_KEY is a test_ key" in p for p in settings.problems)


@pytest.mark.parametrize(
    ("value", "expected", "problem"),
    [
        ("10", 10, None),
        (" 0 ", 0, None),
        ("1440", 1440, None),
        ("abc", 5, "must be a whole number; using 5"),
        ("2.5", 5, "must be a whole number; using 5"),
        ("-1", 5, "must be between 0 and 1440; using 5"),
        ("1441", 5, "must be between 0 and 1440; using 5"),
    ],
)
def test_sync_interval(tmp_path: Path, value: str, expected: int, problem: str | None) -> None:
    settings = load(tmp_path, {"KHALTI_SYNC_INTERVAL_MINUTES": value})
    assert settings.sync_interval_minutes == expected
    if problem is None:
        assert settings.problems == ()
    else:
        assert settings.problems == (f"KHALTI_SYNC_INTERVAL_MINUTES {problem}.",)


def test_numbers_in_secrets_toml(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        None,
        "KHALTI_SYNC_INTERVAL_MINUTES = 15\nKHALTI_SYNC_RECENT_DAYS = 91\n"
        "KHALTI_DEMO_RECORDS = 2.5\n",
    )
    assert settings.sync_interval_minutes == 15
    assert settings.sync_recent_days == 7
    assert settings.demo_records == 3000
    assert any("KHALTI_SYNC_RECENT_DAYS must be between 0 and 90" in p for p in settings.problems)
    assert any("KHALTI_DEMO_RECORDS must be a whole number" in p for p in settings.problems)


def test_unreadable_toml_is_reported_and_the_environment_still_used(tmp_path: Path) -> None:
    # An unquoted key is a TOML syntax error; the message must not quote it back.
    settings = load(
        tmp_path,
        {"KHALTI_LIVE_SECRET_KEY": LIVE_KEY},
        f"KHALTI_TEST_SECRET_KEY = {TEST_KEY}\n",
    )
    assert any("secrets.toml could not be read" in p for p in settings.problems)
    assert "test" not in settings.modes
    assert settings.require("live").secret_key.reveal() == LIVE_KEY
    assert_no_key_shown(settings)


def test_a_toml_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_bytes(b'KHALTI_OPERATOR_NAME = "\xff\xfe"\n')
    settings = load_settings(environ={}, secrets_file=secrets)
    assert settings.problems == ("secrets.toml is not UTF-8 text; its settings were ignored.",)
    assert settings.operator_name == "Staff"


def test_a_folder_where_the_file_should_be_is_ignored(tmp_path: Path) -> None:
    folder = tmp_path / "secrets.toml"
    folder.mkdir()
    settings = load_settings(environ={}, secrets_file=folder)
    assert settings.demo is True


def test_unknown_settings_are_reported(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        None,
        f'KHALTI_TEST_SECRETKEY = "{TEST_KEY}"\ncolour = "blue"\n\n[khalti]\nmode = "test"\n',
    )
    assert settings.problems == (
        "secrets.toml: unknown setting KHALTI_TEST_SECRETKEY ignored. "
        "Did you mean KHALTI_TEST_SECRET_KEY?",
        "secrets.toml: unknown setting colour ignored.",
        "secrets.toml: unknown setting khalti ignored.",
    )
    assert settings.demo is True
    assert_no_key_shown(settings)


def test_database_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.sqlite3'}"
    assert load(tmp_path, {"KHALTI_DASHBOARD_DB": url}).db_url == url
    pg = "postgresql+psycopg://shop@localhost/khalti"
    assert load(tmp_path, {"KHALTI_DASHBOARD_DB": pg}).db_url == pg
    bad = load(tmp_path, {"KHALTI_DASHBOARD_DB": "mysql://shop@localhost/khalti"})
    assert bad.db_url == DEFAULT_DB_URL
    assert any("KHALTI_DASHBOARD_DB must be" in p for p in bad.problems)


def test_require(tmp_path: Path) -> None:
    settings = load(tmp_path, {"KHALTI_TEST_SECRET_KEY": TEST_KEY})
    assert settings.require("test").secret_key.reveal() == TEST_KEY
    with pytest.raises(ConfigError, match="no secret key"):
        settings.require("live")
    with pytest.raises(ConfigError, match="Unknown mode"):
        settings.require("production")


def test_with_demo(tmp_path: Path) -> None:
    settings = load(tmp_path, {"KHALTI_LIVE_SECRET_KEY": LIVE_KEY})
    db = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    demo = settings.with_demo("http://127.0.0.1:9999/", TEST_KEY, TEST_PUBLIC, db)
    assert demo.demo is True
    assert demo.db_url == db
    mode = demo.require("test")
    assert (mode.is_demo, mode.base_url, mode.public_key) == (
        True,
        "http://127.0.0.1:9999",
        TEST_PUBLIC,
    )
    assert demo.require("live").secret_key.reveal() == LIVE_KEY
    # The original is untouched: settings are values, not shared state.
    assert "test" not in settings.modes
    assert_no_key_shown(demo)


def test_demo_db_url_is_fresh_each_time() -> None:
    first, second = demo_db_url(), demo_db_url()
    folders = [Path(url.removeprefix("sqlite:///")).parent for url in (first, second)]
    try:
        assert first.startswith("sqlite:///")
        assert first != second
        assert all(folder.is_dir() for folder in folders)
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
