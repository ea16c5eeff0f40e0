"""Chart and KPI aggregates, checked against sums computed in Python."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest

from dashboard.khalti.models import Transaction
from dashboard.nptime import NPT, month_start, to_npt, week_start, weekday_index
from dashboard.store import Store

SEEN = datetime(2025, 1, 5, 12, 0, tzinfo=UTC)
STATES = ["Completed"] * 6 + ["Refunded", "Failed", "Initiated"]
TYPES = ["Wallet payment", "Ebanking payment", "Mobile banking", "Fee"]


@pytest.fixture
def dataset(store: Store, make_tx) -> list[Transaction]:
    """~400 live payments over Nov-Feb, many near Nepal midnight, plus test-mode noise."""
    rng = random.Random(97)
    start = datetime(2023, 11, 1, 0, 0, tzinfo=NPT)
    rows = []
    for _ in range(400):
        minute = rng.choice([0, 1, 29, 30, 59, rng.randrange(60)])
        hour = rng.choice([0, 23, rng.randrange(24)])
        created = start + timedelta(days=rng.randrange(120), hours=hour, minutes=minute)
        rows.append(
            make_tx(
                state=rng.choice(STATES),
                type_name=rng.choice(TYPES),
                amount=rng.randrange(1000, 100_000),
                fee_amount=rng.randrange(0, 3000),
                created_on=created,
            )
        )
    store.upsert_transactions("live", rows, SEEN)
    store.upsert_transactions(
        "test", [make_tx(amount=999_999, created_on=start + timedelta(days=3))], SEEN
    )
    return rows


def _sums(rows, key, states=None) -> dict:
    out: dict = defaultdict(lambda: [0, 0, 0])
    for tx in rows:
        if states and tx.state_name not in states:
            continue
        cell = out[key(tx)]
        cell[0] += 1
        cell[1] += tx.amount
        cell[2] += tx.fee_amount
    return {k: tuple(v) for k, v in out.items()}


def _in_range(rows, first: date, last: date) -> list[Transaction]:
    return [tx for tx in rows if first <= to_npt(tx.created_on).date() <= last]


def _day(tx: Transaction) -> date:
    return to_npt(tx.created_on).date()


RANGES = [
    (date(2023, 11, 1), date(2024, 2, 28)),
    (date(2023, 12, 13), date(2024, 1, 9)),  # starts mid-week and mid-month
    (date(2024, 1, 1), date(2024, 1, 1)),
]


@pytest.mark.parametrize(("first", "last"), RANGES)
def test_state_totals(store: Store, dataset, first: date, last: date) -> None:
    frame = store.state_totals("live", first, last)
    assert list(frame.columns) == ["state", "count", "amount", "fee"]
    got = {r.state: (r.count, r.amount, r.fee) for r in frame.itertuples()}
    assert got == _sums(_in_range(dataset, first, last), lambda tx: tx.state_name)
    assert frame["count"].is_monotonic_decreasing
    assert all(str(frame[c].dtype) == "int64" for c in ("count", "amount", "fee"))


@pytest.mark.parametrize(("first", "last"), RANGES)
@pytest.mark.parametrize(
    ("grain", "period"),
    [
        ("day", _day),
        ("week", lambda tx: week_start(_day(tx))),
        ("month", lambda tx: month_start(_day(tx))),
    ],
)
def test_volume_series(store: Store, dataset, first, last, grain, period) -> None:
    rows = _in_range(dataset, first, last)
    for states in (("Completed",), ("Completed", "Refunded"), ()):
        frame = store.volume_series("live", first, last, grain, states=states)
        assert list(frame.columns) == ["period", "count", "amount", "fee"]
        got = {r.period: (r.count, r.amount, r.fee) for r in frame.itertuples()}
        assert got == _sums(rows, period, states)
        assert frame["period"].tolist() == sorted(got)
        assert all(type(p) is date for p in frame["period"])


def test_default_states_are_completed(store: Store, dataset) -> None:
    first, last = RANGES[0]
    default = store.volume_series("live", first, last, "month")
    explicit = store.volume_series("live", first, last, "month", states=("Completed",))
    assert default.equals(explicit)


def test_weeks_start_on_sunday_and_months_on_the_first(store: Store, make_tx) -> None:
    # Sat 6 Jan 2024 and Sun 7 Jan 2024 (Nepal time) fall in different weeks.
    sat = make_tx(created_on=datetime(2024, 1, 6, 23, 30, tzinfo=NPT), amount=100_00)
    sun = make_tx(created_on=datetime(2024, 1, 7, 0, 15, tzinfo=NPT), amount=200_00)
    # 00:15 NPT on 1 Feb is still 31 Jan in UTC, but it is February's.
    feb = make_tx(created_on=datetime(2024, 2, 1, 0, 15, tzinfo=NPT), amount=400_00)
    store.upsert_transactions("live", [sat, sun, feb], SEEN)
    first, last = date(2024, 1, 1), date(2024, 2, 29)
    weeks = store.volume_series("live", first, last, "week")
    assert weeks["period"].tolist() == [date(2023, 12, 31), date(2024, 1, 7), date(2024, 1, 28)]
    assert weeks["amount"].tolist() == [100_00, 200_00, 400_00]
    assert all(p.weekday() == 6 for p in weeks["period"])  # Python's 6 is Sunday
    months = store.volume_series("live", first, last, "month")
    assert months["period"].tolist() == [date(2024, 1, 1), date(2024, 2, 1)]
    assert months["amount"].tolist() == [300_00, 400_00]
    heat = store.hour_weekday("live", first, last)
    cells = {(r.weekday, r.hour): r.amount for r in heat.itertuples()}
    assert cells == {(6, 23): 100_00, (0, 0): 200_00, (4, 0): 400_00}


@pytest.mark.parametrize(("first", "last"), RANGES)
def test_type_totals(store: Store, dataset, first, last) -> None:
    rows = _in_range(dataset, first, last)
    frame = store.type_totals("live", first, last)
    assert list(frame.columns) == ["type", "count", "amount"]
    got = {r.type: (r.count, r.amount) for r in frame.itertuples()}
    expected = _sums(rows, lambda tx: tx.type_name, ("Completed",))
    assert got == {k: v[:2] for k, v in expected.items()}
    assert frame["amount"].is_monotonic_decreasing
    every = store.type_totals("live", first, last, states=())
    assert every["count"].sum() == len(rows)


@pytest.mark.parametrize(("first", "last"), RANGES)
def test_hour_weekday(store: Store, dataset, first, last) -> None:
    rows = _in_range(dataset, first, last)
    frame = store.hour_weekday("live", first, last)
    assert list(frame.columns) == ["weekday", "hour", "count", "amount"]
    got = {(r.weekday, r.hour): (r.count, r.amount) for r in frame.itertuples()}
    expected = _sums(
        rows,
        lambda tx: (weekday_index(_day(tx)), to_npt(tx.created_on).hour),
        ("Completed",),
    )
    assert got == {k: v[:2] for k, v in expected.items()}
    assert frame["weekday"].between(0, 6).all() and frame["hour"].between(0, 23).all()


def test_date_span_and_empty_results(store: Store, dataset) -> None:
    days = [_day(tx) for tx in dataset]
    assert store.date_span("live") == (min(days), max(days))
    assert store.date_span("test") == (date(2023, 11, 4), date(2023, 11, 4))
    empty_range = (date(2030, 1, 1), date(2030, 1, 31))
    for frame in (
        store.state_totals("live", *empty_range),
        store.volume_series("live", *empty_range, "day"),
        store.type_totals("live", *empty_range),
        store.hour_weekday("live", *empty_range),
    ):
        assert frame.empty
        assert "count" in frame.columns


def test_range_validation(store: Store) -> None:
    with pytest.raises(ValueError):
        store.state_totals("live", date(2024, 2, 1), date(2024, 1, 1))
    with pytest.raises(ValueError):
        store.volume_series("live", date(2024, 1, 1), date(2024, 1, 2), "year")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        store.type_totals("live", datetime(2024, 1, 1, tzinfo=NPT), date(2024, 1, 2))
    assert store.date_span("live") is None
