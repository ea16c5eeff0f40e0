"""KPI arithmetic from state totals: paisa-exact, honest about open payments."""

import pandas as pd
import pytest

from dashboard.analytics import Kpis, kpis_from_totals, relative_change


def totals(rows: list[tuple[str, int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["state", "count", "amount", "fee"])


def test_kpis_fold_every_state() -> None:
    kpis = kpis_from_totals(
        totals(
            [
                ("Completed", 4, 1_000_050, 25_001),
                ("Refunded", 1, 50_000, 1_250),
                ("Partially refunded", 2, 30_000, 600),
                ("Failed", 3, 9_000, 0),
                ("Initiated", 5, 70_000, 0),
                ("Confirmed", 1, 1_000, 0),
            ]
        )
    )
    assert kpis.gross == 1_000_050
    assert kpis.fees == 25_001
    assert kpis.net == 975_049
    assert kpis.refunded_amount == 80_000
    assert kpis.refunded_count == 3
    assert kpis.successful == 4
    assert kpis.total == 16
    # Open payments (Initiated, Confirmed) have no outcome yet and stay out of the rate.
    assert kpis.concluded == 10
    assert kpis.paid == 7
    assert kpis.success_rate == pytest.approx(0.7)
    # 1,000,050 / 4 = 250,012.5 paisa, rounded half up.
    assert kpis.average_ticket == 250_013


def test_empty_period_has_no_rate_or_average() -> None:
    kpis = kpis_from_totals(totals([]))
    assert kpis == Kpis(0, 0, 0, 0, 0, 0, 0, 0)
    assert kpis.success_rate is None
    assert kpis.average_ticket is None


def test_only_open_payments_give_no_rate() -> None:
    kpis = kpis_from_totals(totals([("Initiated", 2, 2_000, 0)]))
    assert kpis.total == 2
    assert kpis.success_rate is None
    assert kpis.gross == 0


def test_unknown_states_count_as_concluded_but_not_paid() -> None:
    kpis = kpis_from_totals(totals([("Completed", 1, 1_000, 30), ("Disputed", 1, 500, 0)]))
    assert kpis.concluded == 2
    assert kpis.success_rate == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [(150, 100, 0.5), (50, 100, -0.5), (100, 100, 0.0), (5, 0, None), (None, 3, None)],
)
def test_relative_change(current: int | None, previous: int, expected: float | None) -> None:
    assert relative_change(current, previous) == expected


def test_kpis_are_plain_ints() -> None:
    frame = totals([("Completed", 2, 3_000, 90)]).astype({"count": "int64", "amount": "int64"})
    kpis = kpis_from_totals(frame)
    assert type(kpis.gross) is int and type(kpis.successful) is int
    assert type(kpis.average_ticket) is int
