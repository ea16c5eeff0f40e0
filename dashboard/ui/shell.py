"""The parts of the app around every page: the Test/Live switch and the live accent."""

from __future__ import annotations

import streamlit as st

from dashboard.config import MODES, Settings
from dashboard.ui.context import LIVE_MARKER, MODE_KEY

APP_TITLE = "Khalti Merchant Dashboard"
MODE_LABELS = {"test": ":material/science: Test", "live": ":material/radio_button_checked: Live"}
LIVE_RED = "#C62828"
# The sidebar of a live session gets a red edge and tint, visible on every page.
_LIVE_ACCENT_CSS = f"""
<style>
section[data-testid="stSidebar"] {{
    border-right: 6px solid {LIVE_RED};
    background-color: #FFF1F1;
}}
</style>
"""


def tab_title(mode: str) -> str:
    """The browser tab title, marked when the mode is live."""
    return f"{LIVE_MARKER} · {APP_TITLE}" if mode == "live" else APP_TITLE


def mode_switch(settings: Settings) -> str:
    """The sidebar Test/Live switch; returns this rerun's mode (only ever a usable one)."""
    usable = [m for m in MODES if m in settings.modes]
    if st.session_state.get(MODE_KEY) not in usable:
        # Before the widget exists, so session state may still be set; a mode that
        # stopped being usable (keys removed) falls back instead of failing every page.
        st.session_state[MODE_KEY] = usable[0] if usable else "test"
    locked = len(usable) < 2
    st.sidebar.segmented_control(
        "Mode",
        list(MODES),
        key=MODE_KEY,
        required=True,
        disabled=locked,
        format_func=MODE_LABELS.__getitem__,
        help="Test uses Khalti's sandbox; Live is your real account with real money.",
    )
    for mode in MODES:
        if mode not in settings.modes:
            reason = settings.unavailable.get(mode, f"{mode.title()} mode is not configured.")
            st.sidebar.caption(f":material/lock: {mode.title()} is off: {reason}")
    mode = st.session_state[MODE_KEY]
    if mode == "live":
        st.sidebar.badge("LIVE — real money", icon=":material/warning:", color="red")
        st.html(_LIVE_ACCENT_CSS)
    return mode
