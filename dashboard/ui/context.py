"""What every page starts from: the mode, its configuration, the settings and the store.

The mode lives in session state under MODE_KEY and is read once per rerun, before any
page renders; everything that holds data is looked up by mode, so switching modes can
never show the other mode's numbers.
"""

from __future__ import annotations

import logging
import runpy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard.config import MODES, ConfigError, ModeConfig, Settings, load_settings
from dashboard.demo import DemoEnvironment, start_demo
from dashboard.khalti import KhaltiClient
from dashboard.store import SchemaTooNewError, Store, StoreUnavailableError

log = logging.getLogger(__name__)

MODE_KEY = "mode"
APP_SCRIPT = Path(__file__).resolve().parents[2] / "app.py"
LIVE_MARKER = "🔴 LIVE"
DEMO_NOTICE = (
    "**Demo data.** No Khalti keys are configured yet, so this dashboard runs on the "
    "built-in offline Khalti sandbox with made-up payments; no real money is involved. "
    "The Settings page shows how to connect your own account."
)
LIVE_BANNER = (
    "**LIVE — real money.** You are working with your live Khalti account: these are "
    "real customers' payments."
)


@dataclass(frozen=True)
class PageContext:
    """The mode a page works in and everything it needs to read that mode's data."""

    mode: str
    config: ModeConfig
    settings: Settings
    store: Store

    @property
    def is_live(self) -> bool:
        return self.mode == "live"

    def key(self, name: str) -> str:
        """A widget key that belongs to this mode, for widgets holding mode-specific values."""
        return f"{name}_{self.mode}"


@st.cache_resource(show_spinner=False)
def get_store(url: str) -> Store:
    """One store (and connection pool) per database URL for the whole server process."""
    return Store(url)


def open_store(url: str) -> Store | None:
    """The store, or None after explaining on the page why the database cannot be opened."""
    try:
        return get_store(url)
    except SchemaTooNewError:
        st.error(
            "The database was last used by a newer version of this dashboard. Update the "
            "dashboard, or point KHALTI_DASHBOARD_DB at another database.",
            icon=":material/database:",
        )
    except StoreUnavailableError as exc:
        log.warning("cannot open the database: %s", type(exc).__name__)
        st.error(
            "The dashboard's database could not be opened. Check KHALTI_DASHBOARD_DB on the "
            "Settings page and that the database server is running.",
            icon=":material/database:",
        )
    return None


@st.cache_resource(
    show_spinner="Starting the offline Khalti sandbox and loading demo payments…",
)
def _demo_environment(records: int) -> DemoEnvironment:
    return start_demo(records=records)


def get_settings() -> Settings:
    """The settings as they are now, with the built-in sandbox standing in when no keys are set."""
    settings = load_settings()
    if settings.demo:
        settings = _demo_environment(settings.demo_records).apply(settings)
    return settings


def current_mode() -> str:
    """The mode chosen in the sidebar switch ("test" until someone picks live)."""
    mode = st.session_state.get(MODE_KEY, "test")
    return mode if mode in MODES else "test"


def client_for(ctx: PageContext, **options: Any) -> KhaltiClient:
    """A fresh client for the page's mode (options go to KhaltiClient); never keep it around."""
    return ctx.config.client(**options)


def titled(ctx_or_mode: PageContext | str, title: str) -> str:
    """The title with the live marker in front when the mode is live."""
    mode = ctx_or_mode.mode if isinstance(ctx_or_mode, PageContext) else ctx_or_mode
    return f"{LIVE_MARKER} · {title}" if mode == "live" else title


def ensure_app_shell() -> None:
    """Run the page through app.py when Streamlit started it without app.py.

    With a `pages/` folder, Streamlit serves requests the old multipage way until some
    run in this process has called st.navigation: the first request for /transactions
    after a server start (and every AppTest run of a page) then runs the page alone,
    without page setup or the mode switch. Running app.py here calls st.navigation,
    which renders the real sidebar and runs this same page inside it; the outer run
    then stops. No rerun is involved, so a button click in this run is not lost.
    """
    if not getattr(PagesManager, "uses_pages_directory", False):
        return
    run = get_script_run_ctx()
    if run is None:
        return
    # As the entry script, so app.py's widgets (the mode switch) keep the identity they
    # have in every later run; otherwise the switch would forget the mode once.
    with run.run_with_active_hash(run.pages_manager.main_script_hash):
        runpy.run_path(str(APP_SCRIPT), run_name="__main__")
    st.stop()


def page_context() -> PageContext:
    """Call first on every page: resolves the mode and shows the live banner or demo notice."""
    ensure_app_shell()
    settings = get_settings()
    mode = current_mode()
    try:
        config = settings.require(mode)
    except ConfigError as exc:
        mode_notice(mode, None)
        st.error(
            f"{mode.title()} mode cannot be used: {exc} See the Settings page for how to "
            "set it up.",
            icon=":material/block:",
        )
        st.stop()
    mode_notice(mode, config)
    store = open_store(settings.db_url)
    if store is None:
        st.stop()
    return PageContext(mode=mode, config=config, settings=settings, store=store)


def mode_notice(mode: str, config: ModeConfig | None) -> None:
    """The red live banner, or the demo notice, at the top of a page."""
    if mode == "live":
        st.error(LIVE_BANNER, icon=":material/warning:")
    elif config is not None and config.is_demo:
        st.info(DEMO_NOTICE, icon=":material/science:")
