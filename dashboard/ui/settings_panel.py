"""What the Settings page shows: each mode's configuration, masked, and how to change it."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import streamlit as st

from dashboard.config import DEFAULT_SECRETS_FILE, MODES, SETTING_NAMES, Settings
from dashboard.ui.tables import key_value_table

EXAMPLE_FILE = Path(".streamlit") / "secrets.toml.example"


def masked_url(url: str) -> str:
    """A database URL with its password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def masked_public_key(key: str | None) -> str:
    """Public keys are not secret, but the tail is enough to recognise one."""
    if not key:
        return "not set (only needed for test checkouts)"
    return f"{key.rsplit('_', 1)[0]}_…{key[-4:]}"


def mode_panel(settings: Settings, mode: str) -> None:
    """One mode's status: usable or why not, where it points, which key (masked)."""
    config = settings.modes.get(mode)
    with st.container(border=True):
        st.subheader(f"{mode.title()} mode")
        if config is None:
            reason = settings.unavailable.get(mode, "Not configured.")
            st.warning(f"Not available: {reason}", icon=":material/lock:")
            return
        if config.is_demo:
            st.success(
                "Ready: the built-in offline sandbox (demo data).", icon=":material/science:"
            )
        elif mode == "live":
            st.error("Ready: your live Khalti account. Real money.", icon=":material/warning:")
        else:
            st.success("Ready.", icon=":material/check_circle:")
        key_value_table(
            {
                "Khalti address": config.base_url,
                "Secret key": config.secret_key.masked,
                "Public key": masked_public_key(config.public_key),
                "Data": "demo (made-up payments)" if config.is_demo else "real Khalti data",
            }
        )


def general_panel(settings: Settings) -> None:
    """Settings shared by both modes."""
    interval = settings.sync_interval_minutes
    key_value_table(
        {
            "Database": masked_url(settings.db_url),
            "Operator name (audit trail)": settings.operator_name,
            "Background sync": f"every {interval} min" if interval else "off",
            "Recent days rechecked by each sync": settings.sync_recent_days,
            "Demo payments": settings.demo_records if settings.demo else "demo not in use",
        }
    )


def problems_panel(settings: Settings) -> None:
    """Configuration problems, each as a warning a person can act on."""
    for problem in settings.problems:
        st.warning(problem, icon=":material/report:")


def how_to_configure() -> None:
    """Where settings come from, with a secrets.toml skeleton."""
    st.markdown(
        f"Settings come from environment variables or from `{DEFAULT_SECRETS_FILE.name}` in "
        "the `.streamlit` folder (a value there wins over the environment). Copy "
        f"`{EXAMPLE_FILE.as_posix()}` to `.streamlit/secrets.toml`, fill in your keys and "
        "reload this page. Without any secret key the dashboard runs on the built-in offline "
        "demo. Keys are never shown in full here or anywhere else."
    )
    skeleton = "\n".join(f'{name} = "…"' for name in SETTING_NAMES)
    st.code(skeleton, language="toml")
    st.caption("Modes: " + ", ".join(MODES) + ". A test_ key never works in live mode.")
