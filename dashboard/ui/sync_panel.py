"""The sidebar's sync corner: how fresh the data is, a Sync now button, the background syncer."""

from __future__ import annotations

import streamlit as st

from dashboard.config import Settings
from dashboard.money import group_nepali
from dashboard.nptime import now_utc
from dashboard.sync import SyncProgress, SyncResult, SyncScheduler, describe, freshness
from dashboard.ui.context import get_store, open_store


def settings_fingerprint(settings: Settings) -> str:
    """Changes whenever a mode's address or key or the database changes; reveals neither key.

    hash() of a SecretKey is salted per process, so the text is useless outside this one.
    """
    parts = [settings.db_url, str(settings.sync_interval_minutes), str(settings.sync_recent_days)]
    for mode, config in sorted(settings.modes.items()):
        parts.append(f"{mode}={config.base_url}#{hash(config.secret_key):x}")
    return "|".join(parts)


def _stop_scheduler(scheduler: SyncScheduler) -> None:
    # Replaced by a scheduler for new settings: let the current sync finish in the background.
    scheduler.stop(timeout=0)


@st.cache_resource(show_spinner=False, max_entries=1, on_release=_stop_scheduler)
def get_scheduler(fingerprint: str, _settings: Settings) -> SyncScheduler:
    """The one background syncer for the current settings, started on first use."""
    scheduler = SyncScheduler(_settings, get_store(_settings.db_url))
    scheduler.start()
    return scheduler


def _progress_text(step: SyncProgress) -> str:
    return (
        f"Page {group_nepali(step.pages_done)} of {group_nepali(step.pages_total)} · "
        f"{group_nepali(step.records)} payments read"
    )


def _report(result: SyncResult) -> None:
    if result.busy:
        st.info(result.error or "A sync is already running.", icon=":material/hourglass_top:")
    elif result.ok:
        new = f"{group_nepali(result.inserted)} new, {group_nepali(result.changed)} changed"
        st.toast(f"Sync finished: {new}.", icon=":material/check_circle:")
    else:
        st.error(result.error or "The sync did not finish.", icon=":material/sync_problem:")


def sync_panel(settings: Settings, mode: str) -> None:
    """Freshness line, last error and the Sync now button for the current mode (sidebar)."""
    if mode not in settings.modes:
        return
    store = open_store(settings.db_url)
    if store is None:
        return
    scheduler = get_scheduler(settings_fingerprint(settings), settings)
    with st.sidebar:
        st.divider()
        status = scheduler.status(mode)
        fresh = freshness(store, mode, now_utc())
        text = describe(status) if status.running else fresh.text
        st.caption(f":material/sync: {mode.title()} data {text}")
        failed_since = fresh.last_error and (
            fresh.last_success_at is None
            or (fresh.last_attempt_at is not None and fresh.last_attempt_at > fresh.last_success_at)
        )
        if failed_since:
            st.caption(f":material/sync_problem: Last sync failed: {fresh.last_error}")
        if st.button("Sync now", key=f"sync_now_{mode}", icon=":material/sync:", width="stretch"):
            bar = st.progress(0.0, text="Asking Khalti for new payments…")

            def show(step: SyncProgress) -> None:
                bar.progress(step.fraction, text=_progress_text(step))

            result = scheduler.run_now(mode, show)
            bar.empty()
            _report(result)
