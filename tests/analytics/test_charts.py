"""The figures carry the right series: rupees on the axes, previous period aligned, Sunday first."""

from datetime import date

import pandas as pd

from dashboard.analytics import complete_series, weekday_hour_matrix
from dashboard.charts import (
    KHALTI_PURPLE,
    STATE_COLOURS,
    heatmap_figure,
    payment_type_figure,
    state_figure,
    volume_figure,
)


def series(first: date, last: date, amounts: dict[date, int]) -> pd.DataFrame:
    sparse = pd.DataFrame(
        {
            "period": list(amounts),
            "count": [1] * len(amounts),
            "amount": list(amounts.values()),
            "fee": [0] * len(amounts),
        }
    )
    return complete_series(sparse, first, last, "day")


def test_volume_figure_overlays_previous_period_by_position() -> None:
    current = series(date(2025, 5, 8), date(2025, 5, 14), {date(2025, 5, 9): 150_050})
    previous = series(date(2025, 5, 1), date(2025, 5, 7), {date(2025, 5, 2): 99_900})
    fig = volume_figure(current, previous, "day")
    bars, line = fig.data
    assert bars.type == "bar" and bars.name == "This period"
    assert list(bars.y) == [0.0, 1500.5, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert bars.marker.color == KHALTI_PURPLE
    assert line.type == "scatter" and line.line.dash == "dash"
    # The previous period's second day sits over this period's second day.
    assert list(line.x) == list(bars.x)
    assert list(line.y) == [0.0, 999.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    assert line.customdata[1][0] == "Rs 999.00"
    assert fig.layout.yaxis.title.text == "Volume (Rs)"


def test_volume_figure_cuts_a_longer_previous_period() -> None:
    current = series(date(2025, 3, 1), date(2025, 3, 2), {date(2025, 3, 1): 100})
    previous = series(date(2025, 2, 20), date(2025, 2, 28), {date(2025, 2, 20): 500})
    fig = volume_figure(current, previous, "day")
    assert len(fig.data[1].y) == 2


def test_payment_type_figure_has_volume_and_count() -> None:
    types = pd.DataFrame(
        {"type": ["Wallet payment", "Connect IPS"], "count": [12, 3], "amount": [1_234_567, 90_000]}
    )
    fig = payment_type_figure(types)
    volume, count = fig.data
    assert list(volume.y) == ["Wallet payment", "Connect IPS"]
    assert list(volume.x) == [12345.67, 900.0]
    assert list(volume.text) == ["Rs 12,345.67", "Rs 900.00"]
    assert list(count.x) == [12, 3]


def test_state_figure_colours_each_state() -> None:
    states = pd.DataFrame(
        {"state": ["Completed", "Failed"], "count": [9, 1], "amount": [900, 100], "fee": [0, 0]}
    )
    (pie,) = state_figure(states).data
    assert list(pie.labels) == ["Completed", "Failed"]
    assert list(pie.values) == [9, 1]
    assert list(pie.marker.colors) == [STATE_COLOURS["Completed"], STATE_COLOURS["Failed"]]


def test_heatmap_rows_are_nepal_weekdays_sunday_first() -> None:
    cells = pd.DataFrame({"weekday": [0, 5], "hour": [9, 18], "count": [4, 7], "amount": [1, 2]})
    (heat,) = heatmap_figure(weekday_hour_matrix(cells)).data
    assert list(heat.y) == ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    assert len(heat.x) == 24 and heat.x[9] == "09:00"
    assert heat.z[0][9] == 4
    assert heat.z[5][18] == 7
    assert sum(map(sum, heat.z)) == 11
