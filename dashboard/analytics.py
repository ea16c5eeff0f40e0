"""KPI and chart queries for the Overview page, as plain functions over the store's aggregates.

Everything is integer paisa and Nepal dates; the store does the aggregating, so nothing
here ever loads individual payments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import pandas as pd

from dashboard.nptime import WEEKDAY_NAMES, month_start, previous_period, week_start

if TYPE_CHECKING:
    from dashboard.store import Store

GRAINS = ("day", "week", "month")
COMPLETED = "Completed"
REFUND_STATES = ("Refunded", "Partially refunded")
# Payments still waiting for the customer or for verification have no outcome yet, so
# they count neither for nor against the success rate.
OPEN_STATES = frozenset({"Initiated", "Confirmed"})
# Money reached the merchant for these, even if some of it went back later.
PAID_STATES = frozenset({COMPLETED, *REFUND_STATES})


@dataclass(frozen=True)
class Kpis:
    """The headline numbers of one period; amounts are paisa."""

    gross: int
    fees: int
    refunded_amount: int
    refunded_count: int
    successful: int
    paid: int
    concluded: int
    total: int

    @property
    def net(self) -> int:
        """Gross volume minus Khalti's fees."""
        return self.gross - self.fees

    @property
    def success_rate(self) -> float | None:
        """Share of concluded payments that went through (refunded ones included); None if none."""
        return self.paid / self.concluded if self.concluded else None

    @property
    def average_ticket(self) -> int | None:
        """Gross volume per successful payment, rounded half up to the paisa."""
        if not self.successful:
            return None
        return (2 * self.gross + self.successful) // (2 * self.successful)


@dataclass(frozen=True)
class KpiComparison:
    """KPIs of a period and of the period of the same length just before it."""

    first: date
    last: date
    current: Kpis
    previous_first: date
    previous_last: date
    previous: Kpis


def kpis_from_totals(totals: pd.DataFrame) -> Kpis:
    """Fold `store.state_totals` rows (state, count, amount, fee) into the period's KPIs."""
    by_state = {
        str(row.state): (int(row.count), int(row.amount), int(row.fee))
        for row in totals.itertuples(index=False)
    }
    completed = by_state.get(COMPLETED, (0, 0, 0))
    refunds = [by_state[s] for s in REFUND_STATES if s in by_state]
    total = sum(count for count, _, _ in by_state.values())
    open_count = sum(by_state[s][0] for s in OPEN_STATES if s in by_state)
    return Kpis(
        gross=completed[1],
        fees=completed[2],
        refunded_amount=sum(amount for _, amount, _ in refunds),
        refunded_count=sum(count for count, _, _ in refunds),
        successful=completed[0],
        paid=sum(by_state[s][0] for s in PAID_STATES if s in by_state),
        concluded=total - open_count,
        total=total,
    )


def period_kpis(store: Store, mode: str, first: date, last: date) -> Kpis:
    """KPIs of the Nepal days first..last inclusive."""
    return kpis_from_totals(store.state_totals(mode, first, last))


def compare_periods(store: Store, mode: str, first: date, last: date) -> KpiComparison:
    """KPIs of first..last next to those of the previous period of the same length."""
    prev_first, prev_last = previous_period(first, last)
    return KpiComparison(
        first=first,
        last=last,
        current=period_kpis(store, mode, first, last),
        previous_first=prev_first,
        previous_last=prev_last,
        previous=period_kpis(store, mode, prev_first, prev_last),
    )


def relative_change(current: int | float | None, previous: int | float | None) -> float | None:
    """(current - previous) / previous, or None when there is nothing to compare with."""
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / abs(previous)


def period_starts(first: date, last: date, grain: str) -> list[date]:
    """The start date of every day, Sunday-week or month bucket touching first..last."""
    if grain not in GRAINS:
        raise ValueError(f"unknown grain {grain!r}: use day, week or month")
    if grain == "day":
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]
    if grain == "week":
        start, end = week_start(first), week_start(last)
        return [start + timedelta(days=7 * n) for n in range((end - start).days // 7 + 1)]
    starts, month = [], month_start(first)
    while month <= last:
        starts.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return starts


def complete_series(series: pd.DataFrame, first: date, last: date, grain: str) -> pd.DataFrame:
    """The store's volume series with a zero row for every bucket that had no payments."""
    buckets = pd.DataFrame({"period": period_starts(first, last, grain)})
    values = series[["period", "count", "amount", "fee"]].copy()
    values["period"] = pd.to_datetime(values["period"]).dt.date
    merged = buckets.merge(values, on="period", how="left")
    for column in ("count", "amount", "fee"):
        merged[column] = merged[column].fillna(0).astype("int64")
    return merged


def volume_over_time(
    store: Store, mode: str, first: date, last: date, grain: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Completed volume per bucket for first..last and for the previous period, gap-free."""
    prev_first, prev_last = previous_period(first, last)
    current = store.volume_series(mode, first, last, grain, states=(COMPLETED,))
    previous = store.volume_series(mode, prev_first, prev_last, grain, states=(COMPLETED,))
    return (
        complete_series(current, first, last, grain),
        complete_series(previous, prev_first, prev_last, grain),
    )


def payment_types(store: Store, mode: str, first: date, last: date) -> pd.DataFrame:
    """Completed count and amount per payment type, largest amount first."""
    frame = store.type_totals(mode, first, last, (COMPLETED,))
    return frame.sort_values("amount", ascending=False, kind="stable").reset_index(drop=True)


def state_breakdown(store: Store, mode: str, first: date, last: date) -> pd.DataFrame:
    """Count, amount and fee per state, most frequent first."""
    frame = store.state_totals(mode, first, last)
    return frame.sort_values("count", ascending=False, kind="stable").reset_index(drop=True)


def weekday_hour_matrix(cells: pd.DataFrame, value: str = "count") -> pd.DataFrame:
    """A 7 x 24 grid (rows Sun..Sat, columns hour 0..23) from `store.hour_weekday` rows."""
    grid = pd.DataFrame(0, index=range(7), columns=range(24), dtype="int64")
    for row in cells.itertuples(index=False):
        grid.loc[int(row.weekday), int(row.hour)] += int(getattr(row, value))
    grid.index = list(WEEKDAY_NAMES)
    return grid


def busy_hours(store: Store, mode: str, first: date, last: date) -> pd.DataFrame:
    """Completed payments per Nepal weekday and hour, as weekday_hour_matrix."""
    return weekday_hour_matrix(store.hour_weekday(mode, first, last, (COMPLETED,)))
