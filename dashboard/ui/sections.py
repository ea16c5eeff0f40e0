"""Composed page sections: the KPI row, empty states and the payment detail panel."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.analytics import KpiComparison, relative_change
from dashboard.export import MIME_TYPES, XLSX_MAX_ROWS, export_bytes, export_filename
from dashboard.khalti import KhaltiError, TransactionDetail
from dashboard.money import PAISA_PER_RUPEE, format_npr, group_nepali, rupees_text
from dashboard.nptime import format_npt
from dashboard.store import TxFilter
from dashboard.ui.context import PageContext, client_for, titled
from dashboard.ui.filters import range_text
from dashboard.ui.tables import key_value_table, npt_text

VERIFY_PAGE = "pages/verify.py"


def page_header(ctx: PageContext, title: str, caption: str | None = None) -> None:
    """The page title (marked in live mode) and an optional one-line explanation."""
    st.title(titled(ctx, title))
    if caption:
        st.caption(caption)


def _comparison_text(cmp: KpiComparison) -> str:
    days = (cmp.last - cmp.first).days + 1
    return "vs the day before" if days == 1 else f"vs previous {days} days"


def headline_npr(paisa: int) -> str:
    """Whole rupees, rounded half up, for KPI cards: Rs 39,835 (exact amount goes in help)."""
    sign = -1 if paisa < 0 else 1
    whole = (abs(int(paisa)) + PAISA_PER_RUPEE // 2) // PAISA_PER_RUPEE * PAISA_PER_RUPEE
    return format_npr(sign * whole, decimals=False)


@dataclass(frozen=True)
class Card:
    """One KPI card: its value as shown, and the raw numbers its change is computed from."""

    label: str
    value: str
    now: int | float | None
    before: int | float | None
    help: str
    lower_is_better: bool = False
    points: bool = False  # a rate: show the change in percentage points

    def delta(self) -> dict[str, Any]:
        if self.points and self.now is not None and self.before is not None:
            return {"delta": f"{(self.now - self.before) * 100:+.1f} pp"}
        change = relative_change(self.now, self.before)
        if change is None:
            # No earlier figure to compare with: grey words instead of an arrow.
            if not self.now:
                return {"delta": 0}
            return {"delta": "new", "delta_color": "off", "delta_arrow": "off"}
        colour = "inverse" if self.lower_is_better else "normal"
        return {"delta": f"{change:+.1%}", "delta_color": colour}


def _money(label: str, now: int, before: int, help_text: str, **extra: Any) -> Card:
    return Card(
        label, headline_npr(now), now, before, f"{help_text} Exactly {format_npr(now)}.", **extra
    )


def _plural(count: int, word: str) -> str:
    return f"{group_nepali(count)} {word}{'' if count == 1 else 's'}"


def kpi_cards(cmp: KpiComparison) -> list[list[Card]]:
    """The KPI cards in two rows: money, then activity."""
    now, before = cmp.current, cmp.previous
    money = [
        _money("Gross volume", now.gross, before.gross, "Sum of Completed payments in the period."),
        _money(
            "Fees",
            now.fees,
            before.fees,
            "Khalti's fees on Completed payments.",
            lower_is_better=True,
        ),
        _money("Net volume", now.net, before.net, "Gross volume minus fees."),
        _money(
            "Refunded payments",
            now.refunded_amount,
            before.refunded_amount,
            f"Full amount of the {_plural(now.refunded_count, 'payment')} made in the period "
            "that are now Refunded or Partially refunded (not only the part paid back).",
            lower_is_better=True,
        ),
    ]
    rate = now.success_rate
    average = now.average_ticket
    activity = [
        Card(
            "All payments",
            group_nepali(now.total),
            now.total,
            before.total,
            "Every payment started in the period, whatever its state.",
        ),
        Card(
            "Successful payments",
            group_nepali(now.successful),
            now.successful,
            before.successful,
            "Number of Completed payments.",
        ),
        Card(
            "Success rate",
            "–" if rate is None else f"{rate:.1%}",
            rate,
            before.success_rate,
            "Payments that went through (including ones refunded later) out of all payments "
            "with an outcome. Payments still Initiated or Confirmed are left out because "
            "they have not finished yet.",
            points=True,
        ),
        Card(
            "Average payment",
            "–" if average is None else format_npr(average),
            average,
            before.average_ticket,
            "Gross volume divided by the number of successful payments.",
        ),
    ]
    return [money, activity]


def kpi_row(cmp: KpiComparison) -> None:
    """The KPI cards, each with its change against the previous period of the same length."""
    versus = _comparison_text(cmp)
    for cards in kpi_cards(cmp):
        with st.container(horizontal=True, gap="small"):
            for card in cards:
                st.metric(
                    card.label,
                    card.value,
                    help=card.help,
                    border=True,
                    delta_description=versus,
                    **card.delta(),
                )


def empty_period(first: date, last: date, what: str = "payments") -> None:
    """The friendly empty state for a period with nothing in it."""
    st.info(
        f"No {what} between {range_text(first, last)} (Nepal time). Try a wider range, "
        "such as Last 90 days, or sync now if you expect recent payments.",
        icon=":material/event_available:",
    )


@st.cache_data(ttl=120, show_spinner=False, max_entries=200)
def _khalti_detail(mode: str, base_url: str, idx: str, _ctx: PageContext) -> TransactionDetail:
    with client_for(_ctx, timeout=(3.05, 10.0), max_retries=1) as client:
        return client.transaction_detail(idx)


def _local_fields(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "Transaction ID": record.get("idx"),
        "Time (NPT)": npt_text(record.get("created_on")),
        "State": record.get("state"),
        "Type": record.get("type"),
        "Amount": format_npr(int(record.get("amount") or 0)),
        "Fee": format_npr(int(record.get("fee_amount") or 0)),
        "Refunded": "Yes" if record.get("refunded") else "No",
        "Customer": record.get("customer_name"),
        "Customer mobile": record.get("customer_mobile"),
        "Bank": record.get("ebanker") or "— (wallet)",
        "First synced (NPT)": npt_text(record.get("first_seen")),
        "Last synced (NPT)": npt_text(record.get("last_seen")),
    }


def _khalti_section(ctx: PageContext, idx: str, saved_state: str | None) -> None:
    st.markdown("**From Khalti now**")
    try:
        with st.spinner("Asking Khalti for this payment's details…"):
            detail = _khalti_detail(ctx.mode, ctx.config.base_url, idx, ctx)
    except KhaltiError as exc:
        st.warning(
            f"Khalti's details could not be fetched: {exc.message} The saved copy is "
            "still shown as of the last sync.",
            icon=":material/cloud_off:",
        )
        return
    tx = detail.transaction
    if saved_state and tx.state_name != saved_state:
        st.info(
            f"Khalti now says {tx.state_name}; the saved copy says {saved_state}. "
            "The next sync updates the saved copy.",
            icon=":material/update:",
        )
    meta = detail.meta or {}
    key_value_table(
        {
            "State at Khalti": tx.state_name,
            "Can be refunded": "Yes" if detail.can_refund else "No",
            "Can be completed": "Yes" if detail.can_complete else "No",
            "Product": meta.get("product_name") or "—",
            "Product ID": meta.get("product_identity") or "—",
            "Product URL": meta.get("product_url") or "—",
        }
    )
    if detail.children:
        st.markdown("**Linked transactions** (such as Khalti's fee)")
        st.table(
            pd.DataFrame(
                {
                    "Type": [c.type_name for c in detail.children],
                    "Amount": [format_npr(c.amount) for c in detail.children],
                    "State": [c.state_name for c in detail.children],
                    "Transaction ID": [c.idx for c in detail.children],
                }
            ),
            hide_index=True,
            border="horizontal",
        )


def _history_section(ctx: PageContext, idx: str) -> None:
    history = ctx.store.state_history(ctx.mode, idx)
    st.markdown("**State changes seen by sync**")
    if not history:
        st.caption("No state changes recorded yet.")
        return
    st.table(
        pd.DataFrame(
            {
                "Seen at (NPT)": [npt_text(row["observed_at"]) for row in history],
                "State": [row["state"] for row in history],
                "Refunded": ["Yes" if row["refunded"] else "No" for row in history],
                "Amount": [format_npr(int(row["amount"])) for row in history],
            }
        ),
        hide_index=True,
        border="horizontal",
    )


def transaction_detail(ctx: PageContext, idx: str) -> None:
    """Everything known about one payment: saved copy, Khalti's detail, history, Verify link."""
    record = ctx.store.transaction(ctx.mode, idx)
    if record is None:
        st.warning(
            "This payment is not in the saved copy any more. Sync now and select it again.",
            icon=":material/search_off:",
        )
        return
    with st.container(border=True):
        amount = int(record.get("amount") or 0)
        st.subheader(f"{format_npr(amount)} · {record.get('state')}")
        created = record.get("created_on")
        if created is not None:
            st.caption(f"Payment {idx}, made {format_npt(created)}")
        saved, live = st.columns(2, gap="medium")
        with saved:
            st.markdown("**Saved copy**")
            key_value_table(_local_fields(record))
            _history_section(ctx, idx)
        with live:
            _khalti_section(ctx, idx, record.get("state"))
        if record.get("raw"):
            with st.expander("Khalti's full record, as last synced"):
                st.json(record["raw"], expanded=True)
        st.page_link(
            VERIFY_PAGE,
            label="Check this payment on the Verify desk",
            icon=":material/fact_check:",
            # The Verify desk reads amount as rupees typed by a person, e.g. 1500.00.
            query_params={"idx": idx, "amount": rupees_text(amount)},
        )


def figure(fig: Any, *, key: str) -> None:
    """A plotly figure at full width, without plotly's toolbar clutter."""
    st.plotly_chart(
        fig,
        width="stretch",
        key=key,
        theme=None,
        config={"displaylogo": False, "modeBarButtonsToRemove": ["lasso2d", "select2d"]},
    )


def filter_key(tx_filter: TxFilter) -> str:
    """A short stable tag for a filter, so paging and selection restart when it changes."""
    return hashlib.sha256(repr(tx_filter).encode()).hexdigest()[:12]


def export_buttons(ctx: PageContext, tx_filter: TxFilter, count: int) -> None:
    """CSV and Excel downloads of every payment the filter matches, built only when clicked."""
    store, mode = ctx.store, ctx.mode
    first, last = tx_filter.first_day, tx_filter.last_day
    too_big_for_excel = count >= XLSX_MAX_ROWS
    for fmt, name in (("csv", "CSV"), ("xlsx", "Excel")):
        disabled = fmt == "xlsx" and too_big_for_excel
        st.download_button(
            f"Export all as {name}",
            data=lambda fmt=fmt: export_bytes(store, mode, tx_filter, fmt),
            file_name=export_filename(mode, first, last, fmt),
            mime=MIME_TYPES[fmt],
            icon=":material/download:",
            on_click="ignore",
            disabled=disabled,
            key=ctx.key(f"tx_export_{fmt}"),
            help=(
                "Too many payments for one Excel sheet; choose a shorter period or use CSV."
                if disabled
                else f"All {group_nepali(count)} matching payments (not just this page) as {name}."
            ),
        )
