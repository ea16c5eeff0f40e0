"""Nepal time: days, weeks and months are Kathmandu's, whatever UTC says."""

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from dashboard.nptime import (
    NPT,
    PRESETS,
    WEEKDAY_NAMES,
    day_start_utc,
    format_npt,
    khalti_isoformat,
    month_start,
    parse_khalti_time,
    preset_range,
    previous_period,
    range_bounds_utc,
    to_npt,
    to_utc,
    today_npt,
    week_start,
    weekday_index,
)

NEPAL_OFFSET = timedelta(hours=5, minutes=45)


def test_half_past_midnight_on_new_year_is_new_year_in_nepal() -> None:
    moment = datetime(2023, 12, 31, 18, 45, tzinfo=UTC)  # 2024-01-01 00:30 NPT
    assert moment.date() == date(2023, 12, 31)
    assert to_npt(moment).date() == date(2024, 1, 1)
    assert today_npt(moment) == date(2024, 1, 1)
    first, end = range_bounds_utc(date(2024, 1, 1), date(2024, 1, 1))
    assert first <= moment < end


def test_nepal_offset_is_five_forty_five_all_year() -> None:
    for month in range(1, 13):
        moment = datetime(2024, month, 15, 12, tzinfo=UTC)
        assert to_npt(moment).utcoffset() == NEPAL_OFFSET


def test_parse_khalti_time() -> None:
    parsed = parse_khalti_time("2018-06-20T14:48:08.867125+05:45")
    assert parsed.tzinfo is not None
    assert parsed.utcoffset() == NEPAL_OFFSET
    assert parsed.microsecond == 867125
    assert parsed.astimezone(UTC) == datetime(2018, 6, 20, 9, 3, 8, 867125, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2018-06-20T09:03:08Z", datetime(2018, 6, 20, 9, 3, 8, tzinfo=UTC)),
        ("2018-06-20T09:03:08+00:00", datetime(2018, 6, 20, 9, 3, 8, tzinfo=UTC)),
        # Without an offset Khalti means Nepal time.
        ("2018-06-20T14:48:08", datetime(2018, 6, 20, 9, 3, 8, tzinfo=UTC)),
        ("  2018-06-20T14:48:08.5+05:45 ", datetime(2018, 6, 20, 9, 3, 8, 500000, tzinfo=UTC)),
    ],
)
def test_parse_khalti_time_variants(text: str, utc: datetime) -> None:
    parsed = parse_khalti_time(text)
    assert parsed.tzinfo is not None
    assert parsed == utc


@pytest.mark.parametrize("text", ["", "yesterday", "2018-13-01T00:00:00+05:45"])
def test_parse_khalti_time_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        parse_khalti_time(text)


def test_khalti_isoformat_round_trips() -> None:
    text = "2018-06-20T14:48:08.867125+05:45"
    assert khalti_isoformat(parse_khalti_time(text)) == text
    assert khalti_isoformat(datetime(2024, 1, 1, tzinfo=UTC)) == "2024-01-01T05:45:00.000000+05:45"


def test_format_npt() -> None:
    moment = datetime(2023, 12, 31, 18, 45, 30, tzinfo=UTC)
    assert format_npt(moment) == "2024-01-01 00:30 NPT"
    assert format_npt(moment, seconds=True) == "2024-01-01 00:30:30 NPT"


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2024, 1, 1, 12)
    for convert in (to_npt, to_utc, format_npt, khalti_isoformat):
        with pytest.raises(ValueError, match="naive"):
            convert(naive)


def test_to_utc_keeps_the_instant() -> None:
    moment = datetime(2024, 1, 1, 0, 30, tzinfo=NPT)
    assert to_utc(moment) == moment
    assert to_utc(moment).tzinfo is UTC
    other = datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=-5)))
    assert to_npt(other) == other


def test_day_start_utc() -> None:
    assert day_start_utc(date(2024, 1, 1)) == datetime(2023, 12, 31, 18, 15, tzinfo=UTC)


def test_range_bounds_utc_covers_whole_nepal_days() -> None:
    start, end = range_bounds_utc(date(2024, 3, 1), date(2024, 3, 31))
    assert start == datetime(2024, 2, 29, 18, 15, tzinfo=UTC)
    assert end == datetime(2024, 3, 31, 18, 15, tzinfo=UTC)
    assert start.tzinfo is not None and end.tzinfo is not None
    last_instant = datetime(2024, 3, 31, 23, 59, 59, 999999, tzinfo=NPT)
    assert start <= last_instant < end
    assert not start <= datetime(2024, 4, 1, tzinfo=NPT) < end


def test_range_bounds_utc_single_day_is_24_hours() -> None:
    start, end = range_bounds_utc(date(2024, 6, 1), date(2024, 6, 1))
    assert end - start == timedelta(days=1)


def test_range_bounds_utc_refuses_a_backwards_range() -> None:
    with pytest.raises(ValueError, match="ends before it starts"):
        range_bounds_utc(date(2024, 1, 2), date(2024, 1, 1))


@pytest.mark.parametrize(
    ("day", "sunday"),
    [
        (date(2024, 6, 2), date(2024, 6, 2)),  # a Sunday starts its own week
        (date(2024, 6, 3), date(2024, 6, 2)),  # Monday
        (date(2024, 6, 8), date(2024, 6, 2)),  # Saturday ends it
        (date(2024, 6, 9), date(2024, 6, 9)),
        (date(2025, 1, 1), date(2024, 12, 29)),  # across a year boundary
    ],
)
def test_week_start_is_sunday(day: date, sunday: date) -> None:
    assert week_start(day) == sunday
    assert week_start(day).weekday() == 6


def test_weekday_index_matches_names() -> None:
    assert WEEKDAY_NAMES[weekday_index(date(2024, 6, 2))] == "Sun"
    assert WEEKDAY_NAMES[weekday_index(date(2024, 6, 8))] == "Sat"
    assert [weekday_index(date(2024, 6, 2) + timedelta(days=n)) for n in range(7)] == list(range(7))


def test_month_start() -> None:
    assert month_start(date(2024, 2, 29)) == date(2024, 2, 1)


@pytest.mark.parametrize(
    ("preset", "today", "expected"),
    [
        ("Today", date(2024, 3, 15), (date(2024, 3, 15), date(2024, 3, 15))),
        ("Yesterday", date(2024, 3, 1), (date(2024, 2, 29), date(2024, 2, 29))),
        ("Yesterday", date(2024, 1, 1), (date(2023, 12, 31), date(2023, 12, 31))),
        ("Last 7 days", date(2024, 3, 15), (date(2024, 3, 9), date(2024, 3, 15))),
        ("Last 30 days", date(2024, 3, 15), (date(2024, 2, 15), date(2024, 3, 15))),
        ("Last 90 days", date(2024, 3, 31), (date(2024, 1, 2), date(2024, 3, 31))),
        ("This month", date(2024, 3, 15), (date(2024, 3, 1), date(2024, 3, 15))),
        ("This month", date(2024, 3, 1), (date(2024, 3, 1), date(2024, 3, 1))),
        ("Last month", date(2024, 3, 15), (date(2024, 2, 1), date(2024, 2, 29))),
        ("Last month", date(2023, 3, 31), (date(2023, 2, 1), date(2023, 2, 28))),
        ("Last month", date(2024, 1, 10), (date(2023, 12, 1), date(2023, 12, 31))),
        ("Last month", date(2024, 5, 31), (date(2024, 4, 1), date(2024, 4, 30))),
    ],
)
def test_preset_range(preset: str, today: date, expected: tuple[date, date]) -> None:
    assert preset_range(preset, today) == expected


def test_every_preset_is_handled() -> None:
    today = date(2024, 3, 15)
    for preset in PRESETS:
        custom = (date(2024, 1, 1), date(2024, 1, 31)) if preset == "Custom" else None
        first, last = preset_range(preset, today, custom)
        assert first <= last <= today


def test_last_n_days_has_n_days() -> None:
    for days in (7, 30, 90):
        first, last = preset_range(f"Last {days} days", date(2024, 3, 1))
        assert (last - first).days + 1 == days


def test_custom_range() -> None:
    custom = (date(2024, 1, 5), date(2024, 2, 5))
    assert preset_range("Custom", date(2024, 3, 1), custom) == custom
    with pytest.raises(ValueError, match="needs both dates"):
        preset_range("Custom", date(2024, 3, 1))
    with pytest.raises(ValueError, match="ends before it starts"):
        preset_range("Custom", date(2024, 3, 1), (date(2024, 2, 5), date(2024, 1, 5)))


def test_unknown_preset() -> None:
    with pytest.raises(ValueError, match="unknown date range preset"):
        preset_range("Next week", date(2024, 3, 1))


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        (date(2024, 3, 15), date(2024, 3, 15), (date(2024, 3, 14), date(2024, 3, 14))),
        (date(2024, 3, 9), date(2024, 3, 15), (date(2024, 3, 2), date(2024, 3, 8))),
        # 29 days of February 2024 are compared with the 29 days before them.
        (date(2024, 2, 1), date(2024, 2, 29), (date(2024, 1, 3), date(2024, 1, 31))),
        (date(2024, 1, 1), date(2024, 1, 31), (date(2023, 12, 1), date(2023, 12, 31))),
    ],
)
def test_previous_period(first: date, last: date, expected: tuple[date, date]) -> None:
    previous = previous_period(first, last)
    assert previous == expected
    assert (previous[1] - previous[0]) == (last - first)
    assert previous[1] + timedelta(days=1) == first
