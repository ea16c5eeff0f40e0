"""Overview page: KPIs equal the store's own numbers, charts carry the right series."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from dashboard import analytics
from dashboard.charts import rupee_values
from dashboard.money import format_npr, group_nepali
from dashboard.nptime import preset_range, today_npt
from dashboard.ui.sections import headline_npr
from tests.app.conftest import Env, new_app, open_page, texts


def metrics(at: Any) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def figures(at: Any) -> dict[str, dict]:
    """Every plotly chart on the page by its widget key, as the figure JSON sent to the browser."""
    return {
        chart.proto.id.rsplit("-", 1)[-1]: json.loads(chart.proto.spec)
        for chart in at.get("plotly_chart")
    }


def expected_cards(env: Env, mode: str, first: date, last: date) -> dict[str, str]:
    kpis = analytics.period_kpis(env.store, mode, first, last)
    return {
        "Gross volume": headline_npr(kpis.gross),
        "Fees": headline_npr(kpis.fees),
        "Net volume": headline_npr(kpis.net),
        "Refunded payments": headline_npr(kpis.refunded_amount),
        "All payments": group_nepali(kpis.total),
        "Successful payments": group_nepali(kpis.successful),
        "Success rate": f"{kpis.success_rate:.1%}",
        "Average payment": format_npr(kpis.average_ticket),
    }


def test_kpis_equal_the_stores_numbers(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    first, last = preset_range("Last 30 days", today_npt())
    assert metrics(at) == expected_cards(configured, "test", first, last)
    # Exact paisa sit in the help text of each money card.
    gross = next(m for m in at.metric if m.label == "Gross volume")
    kpis = analytics.period_kpis(configured.store, "test", first, last)
    assert f"Exactly {format_npr(kpis.gross)}." in gross.proto.help


def test_changing_the_period_recomputes_kpis(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    at.selectbox(key="ov_preset").set_value("Last 90 days").run()
    first, last = preset_range("Last 90 days", today_npt())
    assert metrics(at) == expected_cards(configured, "test", first, last)
    assert "compared with" in at.caption[0].value


def test_deltas_compare_with_the_previous_period(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    first, last = preset_range("Last 30 days", today_npt())
    cmp = analytics.compare_periods(configured.store, "test", first, last)
    gross = next(m for m in at.metric if m.label == "Gross volume")
    change = analytics.relative_change(cmp.current.gross, cmp.previous.gross)
    assert gross.proto.delta == f"{change:+.1%}"
    assert "vs previous 30 days" in gross.proto.delta_description


def test_volume_chart_has_this_and_previous_period(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    first, last = preset_range("Last 30 days", today_npt())
    current, previous = analytics.volume_over_time(configured.store, "test", first, last, "day")
    volume = figures(at)["ov_volume"]
    bars, line = volume["data"]
    assert bars["name"] == "This period" and line["name"] == "Previous period"
    assert bars["y"] == rupee_values(current["amount"])
    assert line["y"] == rupee_values(previous["amount"])
    assert len(bars["x"]) == 30
    assert line["line"]["dash"] == "dash"


def test_grain_switch_regroups_the_volume_chart(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    at.segmented_control(key="ov_grain").set_value("week").run()
    first, last = preset_range("Last 30 days", today_npt())
    current, _ = analytics.volume_over_time(configured.store, "test", first, last, "week")
    bars = figures(at)["ov_volume"]["data"][0]
    assert len(bars["x"]) == len(current) < 30
    assert bars["y"] == rupee_values(current["amount"])
    assert sum(bars["y"]) == sum(rupee_values(current["amount"]))


def test_type_state_and_heatmap_charts(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    first, last = preset_range("Last 30 days", today_npt())
    charts = figures(at)
    types = analytics.payment_types(configured.store, "test", first, last)
    assert charts["ov_types"]["data"][0]["y"] == list(types["type"])
    assert charts["ov_types"]["data"][1]["x"] == [int(c) for c in types["count"]]
    states = analytics.state_breakdown(configured.store, "test", first, last)
    assert charts["ov_states"]["data"][0]["labels"] == list(states["state"])
    heat = charts["ov_heatmap"]["data"][0]
    assert heat["y"] == ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    grid = analytics.busy_hours(configured.store, "test", first, last)
    assert heat["z"] == grid.to_numpy().tolist()


def test_empty_range_shows_a_helpful_empty_state(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    at.selectbox(key="ov_preset").set_value("Custom").run()
    at.date_input(key="ov_from").set_value(date(2016, 1, 1))
    at.date_input(key="ov_to").set_value(date(2016, 1, 31)).run()
    assert not at.exception
    assert "No payments between 1 Jan 2016 – 31 Jan 2016" in at.info[0].value
    assert "wider range" in at.info[0].value
    assert not at.metric and not at.get("plotly_chart")


def test_custom_range_ending_before_it_starts_is_explained(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    at.selectbox(key="ov_preset").set_value("Custom").run()
    at.date_input(key="ov_from").set_value(date(2025, 3, 10))
    at.date_input(key="ov_to").set_value(date(2025, 3, 1)).run()
    assert "before the start date" in at.error[0].value
    assert not at.metric


def test_live_overview_uses_live_numbers(configured: Env) -> None:
    at = open_page(new_app(), "overview")
    at.segmented_control(key="mode").set_value("live").run()
    first, last = preset_range("Last 30 days", today_npt())
    assert metrics(at) == expected_cards(configured, "live", first, last)
    assert metrics(at) != expected_cards(configured, "test", first, last)
    assert "🔴 LIVE · Overview" in texts(at)
