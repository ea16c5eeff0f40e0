"""Analytics over a real store (SQLite, and PostgreSQL when available): Nepal days and hours."""

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest

from dashboard import analytics
from dashboard.nptime import NPT

SEEN = datetime(2025, 1, 20, tzinfo=UTC)


def npt(*args: int) -> datetime:
    return datetime(*args, tzinfo=NPT)


@pytest.fixture
def shop(store: Any, make_tx: Callable[..., Any]) -> Any:
    """A week of payments in January 2025, some right at Nepal midnight."""
    txs = [
        # Wed 1 Jan 00:30 NPT is still 31 Dec in UTC: it belongs to 1 Jan.
        make_tx(amount=100_000, fee_amount=2_500, created_on=npt(2025, 1, 1, 0, 30)),
        make_tx(amount=50_050, fee_amount=1_251, created_on=npt(2025, 1, 2, 9, 15)),
        make_tx(
            amount=20_000,
            fee_amount=300,
            type_name="Connect IPS",
            ebanker="Nabil Bank",
            created_on=npt(2025, 1, 2, 18, 0),
        ),
        make_tx(state="Refunded", amount=30_000, created_on=npt(2025, 1, 3, 12, 0)),
        make_tx(state="Failed", amount=7_000, fee_amount=0, created_on=npt(2025, 1, 3, 13, 0)),
        make_tx(state="Initiated", amount=9_000, fee_amount=0, created_on=npt(2025, 1, 4, 23, 50)),
        # Saturday 4 Jan 23:50 NPT: the heatmap must put it at Sat 23, not Sat 18 (UTC).
        make_tx(amount=10_000, fee_amount=250, created_on=npt(2025, 1, 4, 23, 50)),
        # The previous period (25-31 Dec): one payment at 23:59 NPT on 31 Dec.
        make_tx(amount=40_000, fee_amount=1_000, created_on=npt(2024, 12, 31, 23, 59)),
    ]
    store.upsert_transactions("test", txs, SEEN)
    # The other mode's payments must never leak into test numbers.
    store.upsert_transactions(
        "live", [make_tx("livepayment000000001", amount=999_999, created_on=npt(2025, 1, 2))], SEEN
    )
    return store


def test_kpis_for_a_nepal_week(shop: Any) -> None:
    cmp = analytics.compare_periods(shop, "test", date(2025, 1, 1), date(2025, 1, 7))
    now = cmp.current
    assert now.gross == 100_000 + 50_050 + 20_000 + 10_000
    assert now.fees == 2_500 + 1_251 + 300 + 250
    assert now.net == now.gross - now.fees
    assert now.successful == 4
    assert now.refunded_amount == 30_000 and now.refunded_count == 1
    assert now.total == 7
    assert now.success_rate == pytest.approx(5 / 6)  # the Initiated one has no outcome yet
    assert now.average_ticket == 45_013  # 180,050 / 4 = 45,012.5, half up
    assert (cmp.previous_first, cmp.previous_last) == (date(2024, 12, 25), date(2024, 12, 31))
    assert cmp.previous.gross == 40_000
    assert cmp.previous.successful == 1


def test_one_day_is_a_nepal_day(shop: Any) -> None:
    first_of_january = analytics.period_kpis(shop, "test", date(2025, 1, 1), date(2025, 1, 1))
    assert first_of_january.gross == 100_000
    new_years_eve = analytics.period_kpis(shop, "test", date(2024, 12, 31), date(2024, 12, 31))
    assert new_years_eve.gross == 40_000


def test_volume_over_time_is_gap_free_with_previous(shop: Any) -> None:
    current, previous = analytics.volume_over_time(
        shop, "test", date(2025, 1, 1), date(2025, 1, 7), "day"
    )
    assert len(current) == 7 and len(previous) == 7
    assert list(current["amount"]) == [100_000, 70_050, 0, 10_000, 0, 0, 0]
    assert list(previous["amount"]) == [0, 0, 0, 0, 0, 0, 40_000]


def test_weekly_volume_groups_from_sunday(shop: Any) -> None:
    current, _ = analytics.volume_over_time(
        shop, "test", date(2024, 12, 29), date(2025, 1, 11), "week"
    )
    assert list(current["period"]) == [date(2024, 12, 29), date(2025, 1, 5)]
    assert list(current["amount"]) == [220_050, 0]


def test_payment_types_largest_first(shop: Any) -> None:
    types = analytics.payment_types(shop, "test", date(2025, 1, 1), date(2025, 1, 7))
    assert list(types["type"]) == ["Wallet payment", "Connect IPS"]
    assert list(types["amount"]) == [160_050, 20_000]
    assert list(types["count"]) == [3, 1]


def test_busy_hours_in_nepal_time(shop: Any) -> None:
    grid = analytics.busy_hours(shop, "test", date(2025, 1, 1), date(2025, 1, 7))
    assert grid.loc["Sat", 23] == 1  # the Initiated one at the same minute is not Completed
    assert grid.loc["Wed", 0] == 1
    assert grid.loc["Thu", 9] == 1 and grid.loc["Thu", 18] == 1
    assert grid.to_numpy().sum() == 4


def test_state_breakdown_counts_every_state(shop: Any) -> None:
    states = analytics.state_breakdown(shop, "test", date(2025, 1, 1), date(2025, 1, 7))
    assert dict(zip(states["state"], states["count"], strict=True)) == {
        "Completed": 4,
        "Refunded": 1,
        "Failed": 1,
        "Initiated": 1,
    }
    assert states["state"].iloc[0] == "Completed"
