"""Settings: how each mode is configured (keys masked), and how to change it."""

import streamlit as st

from dashboard.config import MODES
from dashboard.ui import settings_panel
from dashboard.ui.context import current_mode, ensure_app_shell, get_settings, mode_notice, titled

ensure_app_shell()
settings = get_settings()
mode = current_mode()
mode_notice(mode, settings.modes.get(mode))
st.title(titled(mode, "Settings"))

settings_panel.problems_panel(settings)
for column, name in zip(st.columns(len(MODES), gap="medium"), MODES, strict=True):
    with column:
        settings_panel.mode_panel(settings, name)

st.subheader("General")
settings_panel.general_panel(settings)

st.subheader("How to configure")
settings_panel.how_to_configure()
