"""Khalti Merchant Dashboard: page setup, the Test/Live switch and navigation."""

import streamlit as st

from dashboard.ui import shell
from dashboard.ui.context import MODE_KEY, get_settings, titled
from dashboard.ui.sync_panel import sync_panel

st.session_state.setdefault(MODE_KEY, "test")
settings = get_settings()
# The mode is read here, once per rerun and before any page runs, from the switch's state.
mode = shell.mode_switch(settings)
st.set_page_config(
    page_title=shell.tab_title(mode),
    page_icon=":material/account_balance_wallet:",
    layout="wide",
)
sync_panel(settings, mode)

navigation = st.navigation(
    {
        "Reports": [
            st.Page(
                "pages/overview.py",
                title=titled(mode, "Overview"),
                icon=":material/dashboard:",
                default=True,
            ),
            st.Page(
                "pages/transactions.py",
                title=titled(mode, "Transactions"),
                icon=":material/receipt_long:",
            ),
        ],
        "Desk": [
            st.Page("pages/verify.py", title=titled(mode, "Verify"), icon=":material/fact_check:"),
        ],
        "Settings": [
            st.Page(
                "pages/settings.py", title=titled(mode, "Settings"), icon=":material/settings:"
            ),
        ],
    }
)
navigation.run()
