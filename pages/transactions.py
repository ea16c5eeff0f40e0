"""Transactions: the filtered, paged list of payments, one payment's detail, and exports."""

import streamlit as st

from dashboard.money import format_npr, group_nepali
from dashboard.store import TxFilter
from dashboard.ui import sections
from dashboard.ui.context import page_context
from dashboard.ui.filters import amount_range_filter, date_range_filter, range_text
from dashboard.ui.tables import TRANSACTION_COLUMNS, transactions_display

PAGE_SIZE = 50
ROW_HEIGHT = 35  # Streamlit's default dataframe row height, in pixels
MAX_TABLE_HEIGHT = 740  # about 20 rows; the rest scroll inside the table

ctx = page_context()
sections.page_header(ctx, "Transactions")

with st.container(horizontal=True, vertical_alignment="top"):
    with st.container(width=420):
        period = date_range_filter("tx")
    states = st.multiselect(
        "State",
        ctx.store.distinct_values(ctx.mode, "state"),
        key=ctx.key("tx_states"),
        placeholder="All states",
    )
    types = st.multiselect(
        "Payment type",
        ctx.store.distinct_values(ctx.mode, "type"),
        key=ctx.key("tx_types"),
        placeholder="All types",
    )
with st.container(horizontal=True, vertical_alignment="top"):
    with st.container(width=420):
        low, high = amount_range_filter("tx")
    search = st.text_input(
        "Search",
        key="tx_search",
        placeholder="Transaction ID, customer name, mobile or bank",
        icon=":material/search:",
    )
if period is None:
    st.stop()
first, last = period
tx_filter = TxFilter(
    first_day=first,
    last_day=last,
    states=tuple(states),
    types=tuple(types),
    min_paisa=low,
    max_paisa=high,
    search=search,
)
count, total = ctx.store.transactions_summary(ctx.mode, tx_filter)
if count == 0:
    sections.empty_period(first, last, "payments match these filters")
    st.stop()

with st.container(horizontal=True, vertical_alignment="center"):
    st.markdown(
        f"**{group_nepali(count)}** payments totalling **{format_npr(total)}** · "
        f"{range_text(first, last)}"
    )
    st.space("stretch")
    sections.export_buttons(ctx, tx_filter, count)

table_slot = st.container()
page_count = -(-count // PAGE_SIZE)
filter_key = sections.filter_key(tx_filter)
page = 1
if page_count > 1:
    page = st.pagination(page_count, key=ctx.key(f"tx_page_{filter_key}"), width="stretch")
offset = (page - 1) * PAGE_SIZE
rows = ctx.store.transactions_page(ctx.mode, tx_filter, limit=PAGE_SIZE, offset=offset)
with table_slot:
    st.caption(
        f"Showing {group_nepali(offset + 1)}–{group_nepali(offset + len(rows))} of "
        f"{group_nepali(count)}, newest first. Select a row to see its details."
    )
    event = st.dataframe(
        transactions_display(rows),
        key=ctx.key(f"tx_table_{filter_key}_{page}"),
        on_select="rerun",
        selection_mode="single-row",
        hide_index=True,
        column_config=TRANSACTION_COLUMNS,
        width="stretch",
        height=min(ROW_HEIGHT * (len(rows) + 1) + 3, MAX_TABLE_HEIGHT),
    )

selected = [row for row in event.selection.rows if row < len(rows)]
if selected:
    sections.transaction_detail(ctx, str(rows.iloc[selected[0]]["idx"]))
