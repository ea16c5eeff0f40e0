"""Filter widgets shared by the pages: a Nepal-date range bar and a rupee amount range."""

from __future__ import annotations

from datetime import date

import streamlit as st

from dashboard.money import AmountError, parse_rupees
from dashboard.nptime import PRESETS, preset_range, today_npt

# Khalti started taking payments in 2017; nothing can be older than this.
EARLIEST_DAY = date(2015, 1, 1)


def format_day(day: date) -> str:
    """12 Nov 2025, the way dates read in captions."""
    return f"{day.day} {day:%b %Y}"


def range_text(first: date, last: date) -> str:
    """ "12 Nov 2025" for one day, otherwise "1 Nov 2025 – 30 Nov 2025"."""
    if first == last:
        return format_day(first)
    return f"{format_day(first)} – {format_day(last)}"


def date_range_filter(prefix: str, *, default: str = "Last 30 days") -> tuple[date, date] | None:
    """A period picker (presets plus Custom) in Nepal dates; None while the range is invalid."""
    today = today_npt()
    preset = st.selectbox(
        "Period",
        PRESETS,
        index=PRESETS.index(default),
        key=f"{prefix}_preset",
        help="Days are counted in Nepal time (NPT).",
    )
    if preset != "Custom":
        return preset_range(preset, today)
    start_default, end_default = preset_range("Last 30 days", today)
    with st.container(horizontal=True, gap="small"):
        first = st.date_input(
            "From",
            value=start_default,
            min_value=EARLIEST_DAY,
            max_value=today,
            key=f"{prefix}_from",
            format="DD/MM/YYYY",
        )
        last = st.date_input(
            "To",
            value=end_default,
            min_value=EARLIEST_DAY,
            max_value=today,
            key=f"{prefix}_to",
            format="DD/MM/YYYY",
        )
    if not isinstance(first, date) or not isinstance(last, date):
        st.error("Pick both a start and an end date.", icon=":material/event_busy:")
        return None
    if last < first:
        st.error(
            f"The end date ({format_day(last)}) is before the start date ({format_day(first)}).",
            icon=":material/event_busy:",
        )
        return None
    return first, last


def amount_input(label: str, key: str, *, placeholder: str) -> tuple[int | None, str | None]:
    """A rupee text box: (paisa, None) when valid or empty, (None, message) when not."""
    text = st.text_input(label, key=key, placeholder=placeholder)
    if not (text or "").strip():
        return None, None
    try:
        return parse_rupees(text), None
    except AmountError as exc:
        return None, f"{label}: {exc}"


def amount_range_filter(prefix: str) -> tuple[int | None, int | None]:
    """Min/max rupee inputs; a bad value is explained and the amount filter left off."""
    with st.container(horizontal=True, gap="small"):
        low, low_error = amount_input("Min amount (Rs)", f"{prefix}_min", placeholder="e.g. 500")
        high, high_error = amount_input(
            "Max amount (Rs)", f"{prefix}_max", placeholder="e.g. 5,000"
        )
    problems = [p for p in (low_error, high_error) if p]
    if not problems and low is not None and high is not None and low > high:
        problems.append("Min amount is larger than max amount.")
    if problems:
        st.error(
            " ".join(problems) + " The amount filter is not applied until this is fixed.",
            icon=":material/money_off:",
        )
        return None, None
    return low, high
