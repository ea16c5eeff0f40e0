"""Settings for the app and the CLI, from the environment and `.streamlit/secrets.toml`.

This is the only module that reads settings or keys. A value in secrets.toml
overrides the same name in the environment. Problems are collected as sentences a
person can act on; a mode with a problem is unavailable, and nothing is sent.
"""

from __future__ import annotations

import difflib
import os
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from dashboard.khalti.client import KhaltiClient
from dashboard.khalti.keys import (
    PUBLIC_KEY_SHAPE,
    SECRET_KEY_SHAPE,
    KeyShapeError,
    SecretKey,
    check_base_url,
)

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SECRETS_FILE = PROJECT_DIR / ".streamlit" / "secrets.toml"
DEFAULT_DB_URL = f"sqlite:///{PROJECT_DIR / 'data' / 'khalti.sqlite3'}"
DEFAULT_BASE_URLS = {"test": "https://dev.khalti.com", "live": "https://khalti.com"}
MODES = ("test", "live")
SANDBOX_HOSTS = {"dev.khalti.com", "test-admin.khalti.com", "test-pay.khalti.com"}
PRODUCTION_HOSTS = {"khalti.com", "www.khalti.com", "a.khalti.com", "pay.khalti.com"}

# Names accepted in the environment and, identically, as top-level keys in secrets.toml.
SETTING_NAMES = (
    "KHALTI_TEST_SECRET_KEY",
    "KHALTI_LIVE_SECRET_KEY",
    "KHALTI_TEST_PUBLIC_KEY",
    "KHALTI_LIVE_PUBLIC_KEY",
    "KHALTI_TEST_BASE_URL",
    "KHALTI_LIVE_BASE_URL",
    "KHALTI_DASHBOARD_DB",
    "KHALTI_OPERATOR_NAME",
    "KHALTI_SYNC_INTERVAL_MINUTES",
    "KHALTI_SYNC_RECENT_DAYS",
    "KHALTI_DEMO_RECORDS",
)


class ConfigError(Exception):
    """A setting that stops a mode or the app from working; the text is for the user."""


@dataclass(frozen=True)
class ModeConfig:
    """Everything needed to talk to Khalti in one mode."""

    mode: str
    base_url: str
    secret_key: SecretKey = field(repr=False)
    public_key: str | None = None
    is_demo: bool = False

    @property
    def is_live(self) -> bool:
        return self.mode == "live"

    def client(self, **options: Any) -> KhaltiClient:
        """A new client for this mode (options go to KhaltiClient); the key stays inside."""
        return KhaltiClient(
            self.secret_key, base_url=self.base_url, public_key=self.public_key, **options
        )


@dataclass(frozen=True)
class Settings:
    modes: Mapping[str, ModeConfig]
    unavailable: Mapping[str, str]
    db_url: str
    operator_name: str
    sync_interval_minutes: int
    sync_recent_days: int
    demo_records: int
    problems: tuple[str, ...] = ()
    demo: bool = False

    def require(self, mode: str) -> ModeConfig:
        """The mode's configuration, or ConfigError saying why it cannot be used."""
        if mode not in MODES:
            raise ConfigError(f"Unknown mode “{mode}”: use test or live.")
        if mode in self.modes:
            return self.modes[mode]
        raise ConfigError(self.unavailable.get(mode, f"{mode.title()} mode is not configured."))

    def with_demo(self, base_url: str, secret_key: str, public_key: str, db_url: str) -> Settings:
        """Settings whose test mode is the built-in offline sandbox, in its own database."""
        demo = ModeConfig("test", check_base_url(base_url), SecretKey(secret_key), public_key, True)
        return replace(self, modes={**self.modes, "test": demo}, db_url=db_url, demo=True)


def _read_secrets_file(path: Path) -> tuple[dict[str, Any], list[str]]:
    if not path.is_file():
        return {}, []
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except UnicodeDecodeError:
        # tomllib decodes the bytes itself and lets this through as a plain ValueError.
        return {}, [f"{path.name} is not UTF-8 text; its settings were ignored."]
    except (tomllib.TOMLDecodeError, OSError) as exc:
        return {}, [f"{path.name} could not be read ({exc}); its settings were ignored."]
    unknown = sorted(k for k in data if k not in SETTING_NAMES)
    notes = [f"{path.name}: unknown setting {k} ignored.{_did_you_mean(k)}" for k in unknown]
    return {k: v for k, v in data.items() if k in SETTING_NAMES}, notes


def _did_you_mean(name: str) -> str:
    close = difflib.get_close_matches(name.upper(), SETTING_NAMES, n=1, cutoff=0.8)
    return f" Did you mean {close[0]}?" if close else ""


def _raw_settings(
    environ: Mapping[str, str], secrets_file: Path
) -> tuple[dict[str, Any], list[str]]:
    values: dict[str, Any] = {k: environ[k] for k in SETTING_NAMES if environ.get(k, "").strip()}
    from_file, notes = _read_secrets_file(secrets_file)
    values.update({k: v for k, v in from_file.items() if str(v).strip()})
    return values, notes


def _int_setting(
    values: Mapping[str, Any], name: str, default: int, low: int, high: int, problems: list[str]
) -> int:
    if name not in values:
        return default
    try:
        number = int(str(values[name]).strip())
    except ValueError:
        problems.append(f"{name} must be a whole number; using {default}.")
        return default
    if not low <= number <= high:
        problems.append(f"{name} must be between {low} and {high}; using {default}.")
        return default
    return number


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _mode_config(mode: str, values: Mapping[str, Any]) -> ModeConfig:
    """Build one mode's configuration, or raise ConfigError before any request is sent."""
    prefix = f"KHALTI_{mode.upper()}"
    raw_key = str(values.get(f"{prefix}_SECRET_KEY", "")).strip()
    if not raw_key:
        raise ConfigError(f"{mode.title()} mode has no secret key ({prefix}_SECRET_KEY).")
    try:
        key = SecretKey(raw_key)
    except KeyShapeError as exc:
        raise ConfigError(f"{prefix}_SECRET_KEY: {exc}") from None
    try:
        base_url = check_base_url(str(values.get(f"{prefix}_BASE_URL", DEFAULT_BASE_URLS[mode])))
    except KeyShapeError as exc:
        raise ConfigError(f"{prefix}_BASE_URL: {exc}") from None
    host = _host(base_url)
    if mode == "live" and key.prefix == "test":
        raise ConfigError("A test_ secret key cannot be used in live mode; use a live_ key.")
    if mode == "live" and host in SANDBOX_HOSTS:
        raise ConfigError(f"Live mode points at Khalti's sandbox ({host}); use https://khalti.com.")
    if key.prefix == "test" and host in PRODUCTION_HOSTS:
        raise ConfigError(
            f"{prefix}_BASE_URL is Khalti's live service ({host}) but the key is a test_ key."
        )
    if mode == "test" and host in PRODUCTION_HOSTS:
        # A live_ key on the live host moves real money; calling that "test" would hide it.
        raise ConfigError(
            f"Test mode points at Khalti's live service ({host}); use https://dev.khalti.com."
        )
    return ModeConfig(mode=mode, base_url=base_url, secret_key=key)


def _public_key(mode: str, values: Mapping[str, Any], problems: list[str]) -> str | None:
    """The mode's public key if it has the right shape; a wrong one is reported, not echoed."""
    name = f"KHALTI_{mode.upper()}_PUBLIC_KEY"
    text = str(values.get(name, "")).strip()
    if not text:
        return None
    if SECRET_KEY_SHAPE.match(text):
        # Public keys end up in browsers and request bodies; a secret key must not.
        problems.append(f"{name} holds a secret key, not a public key; it was ignored.")
        return None
    if not PUBLIC_KEY_SHAPE.match(text):
        problems.append(
            f"{name} is not a Khalti public key (test_public_key_ or live_public_key_ followed "
            "by 32 hexadecimal characters); it was ignored."
        )
        return None
    if mode == "live" and text.startswith("test_"):
        problems.append(f"{name} is a test_ key, which live mode cannot use; it was ignored.")
        return None
    return text


def load_settings(
    environ: Mapping[str, str] | None = None, secrets_file: Path | None = None
) -> Settings:
    """Read and check every setting; never raises for a bad value, reports it instead."""
    environ = os.environ if environ is None else environ
    path = secrets_file or Path(environ.get("KHALTI_SECRETS_FILE", "") or DEFAULT_SECRETS_FILE)
    values, problems = _raw_settings(environ, path)
    modes: dict[str, ModeConfig] = {}
    unavailable: dict[str, str] = {}
    for mode in MODES:
        try:
            config = _mode_config(mode, values)
            modes[mode] = replace(config, public_key=_public_key(mode, values, problems))
        except ConfigError as exc:
            unavailable[mode] = str(exc)
            if f"KHALTI_{mode.upper()}_SECRET_KEY" in values:
                problems.append(str(exc))
    if len(modes) == 2 and modes["test"].secret_key == modes["live"].secret_key:
        problems.append("Test and live use the same secret key; live mode is turned off.")
        unavailable["live"] = "Live mode uses the same key as test mode."
        del modes["live"]
    db_url = str(values.get("KHALTI_DASHBOARD_DB", DEFAULT_DB_URL)).strip()
    if not db_url.startswith(("sqlite://", "postgresql")):
        problems.append("KHALTI_DASHBOARD_DB must be a sqlite:/// or postgresql+psycopg:// URL.")
        db_url = DEFAULT_DB_URL
    configured_any = any(f"KHALTI_{m.upper()}_SECRET_KEY" in values for m in MODES)
    return Settings(
        modes=modes,
        unavailable=unavailable,
        db_url=db_url,
        operator_name=str(values.get("KHALTI_OPERATOR_NAME", "")).strip() or "Staff",
        sync_interval_minutes=_int_setting(
            values, "KHALTI_SYNC_INTERVAL_MINUTES", 5, 0, 24 * 60, problems
        ),
        sync_recent_days=_int_setting(values, "KHALTI_SYNC_RECENT_DAYS", 7, 0, 90, problems),
        demo_records=_int_setting(values, "KHALTI_DEMO_RECORDS", 3000, 100, 200_000, problems),
        problems=tuple(problems),
        demo=not configured_any,
    )


def demo_db_url() -> str:
    """A fresh database for the built-in demo, so demo payments never mix with real ones."""
    folder = Path(tempfile.mkdtemp(prefix="khalti-demo-"))
    return f"sqlite:///{folder / 'demo.sqlite3'}"
