"""Overview: KPIs and charts for a period, in Nepal time."""

import streamlit as st

from dashboard import analytics, charts
from dashboard.ui import sections
from dashboard.ui.context import page_context
from dashboard.ui.filters import date_range_filter, range_text

ctx = page_context()
sections.page_header(ctx, "Overview")

with st.container(horizontal=True, vertical_alignment="bottom"):
    with st.container(width=420):
        period = date_range_filter("ov")
    grain = st.segmented_control(
        "Group by",
        analytics.GRAINS,
        default="day",
        required=True,
        key="ov_grain",
        format_func=str.title,
    )
if period is None:
    st.stop()
first, last = period
cmp = analytics.compare_periods(ctx.store, ctx.mode, first, last)
st.caption(
    f"{range_text(first, last)} (Nepal time), compared with "
    f"{range_text(cmp.previous_first, cmp.previous_last)}."
)
if cmp.current.total == 0:
    sections.empty_period(first, last)
    st.stop()

sections.kpi_row(cmp)

current, previous = analytics.volume_over_time(ctx.store, ctx.mode, first, last, grain)
st.subheader("Volume over time")
sections.figure(charts.volume_figure(current, previous, grain), key="ov_volume")

by_type, by_state = st.columns(2, gap="large")
with by_type:
    st.subheader("By payment type")
    types = analytics.payment_types(ctx.store, ctx.mode, first, last)
    if types.empty:
        st.caption("No completed payments in this period.")
    else:
        sections.figure(charts.payment_type_figure(types), key="ov_types")
with by_state:
    st.subheader("By state")
    sections.figure(
        charts.state_figure(analytics.state_breakdown(ctx.store, ctx.mode, first, last)),
        key="ov_states",
    )

st.subheader("Busy hours")
st.caption("Completed payments by weekday and hour, Nepal time.")
sections.figure(
    charts.heatmap_figure(analytics.busy_hours(ctx.store, ctx.mode, first, last)), key="ov_heatmap"
)
