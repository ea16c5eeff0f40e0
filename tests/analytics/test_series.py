"""Buckets and grids for the charts: every bucket present, weeks from Sunday, Nepal hours."""

from datetime import date

import pandas as pd
import pytest

from dashboard.analytics import complete_series, period_starts, weekday_hour_matrix


def test_day_buckets_cover_the_range() -> None:
    days = period_starts(date(2025, 1, 30), date(2025, 2, 2), "day")
    assert days == [date(2025, 1, 30), date(2025, 1, 31), date(2025, 2, 1), date(2025, 2, 2)]


def test_week_buckets_start_on_sunday() -> None:
    # 1 Jan 2025 is a Wednesday; its Nepal week began on Sunday 29 Dec 2024.
    weeks = period_starts(date(2025, 1, 1), date(2025, 1, 12), "week")
    assert weeks == [date(2024, 12, 29), date(2025, 1, 5), date(2025, 1, 12)]
    assert all(w.weekday() == 6 for w in weeks)


def test_month_buckets_cross_the_year() -> None:
    months = period_starts(date(2024, 11, 15), date(2025, 2, 3), "month")
    assert months == [date(2024, 11, 1), date(2024, 12, 1), date(2025, 1, 1), date(2025, 2, 1)]


def test_unknown_grain_is_refused() -> None:
    with pytest.raises(ValueError, match="grain"):
        period_starts(date(2025, 1, 1), date(2025, 1, 2), "hour")


def test_complete_series_fills_gaps_with_zero() -> None:
    sparse = pd.DataFrame(
        {"period": [date(2025, 3, 2)], "count": [3], "amount": [4_500], "fee": [90]}
    )
    full = complete_series(sparse, date(2025, 3, 1), date(2025, 3, 3), "day")
    assert list(full["period"]) == [date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)]
    assert list(full["amount"]) == [0, 4_500, 0]
    assert list(full["count"]) == [0, 3, 0]
    assert str(full["amount"].dtype) == "int64"


def test_complete_series_of_nothing_is_all_zero() -> None:
    empty = pd.DataFrame({"period": [], "count": [], "amount": [], "fee": []})
    # 1 Mar 2025 is a Saturday, so March touches six Sunday-weeks.
    full = complete_series(empty, date(2025, 3, 1), date(2025, 3, 31), "week")
    assert len(full) == 6
    assert full["period"].iloc[0] == date(2025, 2, 23)
    assert full["amount"].sum() == 0


def test_weekday_hour_matrix_is_sunday_first() -> None:
    cells = pd.DataFrame({"weekday": [0, 6, 6], "hour": [0, 23, 23], "count": [1, 2, 5]})
    grid = weekday_hour_matrix(cells)
    assert grid.shape == (7, 24)
    assert list(grid.index) == ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    assert grid.loc["Sun", 0] == 1
    assert grid.loc["Sat", 23] == 7
    assert grid.to_numpy().sum() == 8
