"""Reading transactions: filters, Nepal-date boundaries, pages, exports, search."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from dashboard.nptime import NPT
from dashboard.store import Store, TxFilter

SEEN = datetime(2025, 1, 5, 12, 0, tzinfo=UTC)
PAGE_COLUMNS = [
    "idx",
    "created_on",
    "state",
    "type",
    "amount",
    "fee_amount",
    "refunded",
    "customer_name",
    "customer_mobile",
    "ebanker",
]


@pytest.fixture
def boundary_store(store: Store, make_tx) -> Store:
    """Payments around the Nepal new year, when the UTC date is still the old one."""
    rows = [
        # 23:59 NPT on 31 Dec: the last minute of 2023 in Nepal.
        make_tx("dec31lateNPT0000000001", created_on=datetime(2023, 12, 31, 23, 59, tzinfo=NPT)),
        # 00:00 and 00:30 NPT on 1 Jan are 18:15 and 18:45 UTC on 31 Dec.
        make_tx("jan01midnightNPT000001", created_on=datetime(2024, 1, 1, 0, 0, tzinfo=NPT)),
        make_tx("jan01halfpastNPT000001", created_on=datetime(2024, 1, 1, 0, 30, tzinfo=NPT)),
        make_tx("jan01lateNPT0000000001", created_on=datetime(2024, 1, 1, 23, 59, 59, tzinfo=NPT)),
        make_tx("jan02earlyNPT000000001", created_on=datetime(2024, 1, 2, 0, 0, tzinfo=NPT)),
    ]
    store.upsert_transactions("live", rows, SEEN)
    return store


def _idxs(frame: pd.DataFrame) -> list[str]:
    return frame["idx"].tolist()


def test_nepal_day_boundaries(boundary_store: Store) -> None:
    jan1 = TxFilter(first_day=date(2024, 1, 1), last_day=date(2024, 1, 1))
    page = boundary_store.transactions_page("live", jan1)
    assert sorted(_idxs(page)) == sorted(
        ["jan01midnightNPT000001", "jan01halfpastNPT000001", "jan01lateNPT0000000001"]
    )
    # 00:30 NPT on 1 Jan is 31 Dec in UTC, yet it belongs to 1 Jan.
    half_past = page.set_index("idx").loc["jan01halfpastNPT000001", "created_on"]
    assert half_past == pd.Timestamp("2023-12-31 18:45", tz="UTC")
    dec31 = TxFilter(first_day=date(2023, 12, 31), last_day=date(2023, 12, 31))
    assert _idxs(boundary_store.transactions_page("live", dec31)) == ["dec31lateNPT0000000001"]
    assert boundary_store.transactions_summary("live", jan1) == (3, 3000)
    only_first = TxFilter(first_day=date(2024, 1, 2))
    assert _idxs(boundary_store.transactions_page("live", only_first)) == ["jan02earlyNPT000000001"]
    only_last = TxFilter(last_day=date(2023, 12, 31))
    assert _idxs(boundary_store.transactions_page("live", only_last)) == ["dec31lateNPT0000000001"]
    assert boundary_store.date_span("live") == (date(2023, 12, 31), date(2024, 1, 2))


def test_every_filter(store: Store, make_tx) -> None:
    at = datetime(2024, 5, 10, 12, 0, tzinfo=NPT)
    rows = [
        make_tx("aaaaaaaaaaaaaaaaaaaaa1", amount=1000, created_on=at, customer_name="Ram Thapa"),
        make_tx(
            "bbbbbbbbbbbbbbbbbbbbb2",
            amount=5000,
            state="Refunded",
            created_on=at + timedelta(minutes=1),
            customer_mobile="9811111111",
        ),
        make_tx(
            "ccccccccccccccccccccc3",
            amount=9000,
            type_name="Ebanking payment",
            ebanker="Nabil Bank",
            created_on=at + timedelta(minutes=2),
            customer_name="Sita Gurung",
        ),
        make_tx(
            "ddddddddddddddddddddd4",
            amount=20000,
            state="Failed",
            type_name="Ebanking payment",
            ebanker="Global IME",
            created_on=at + timedelta(minutes=3),
            customer_name="100% Pure_Tea",
        ),
    ]
    store.upsert_transactions("live", rows, SEEN)

    def idxs(**kw) -> list[str]:
        return sorted(_idxs(store.transactions_page("live", TxFilter(**kw))))

    assert idxs(states=("Refunded", "Failed")) == [
        "bbbbbbbbbbbbbbbbbbbbb2",
        "ddddddddddddddddddddd4",
    ]
    assert idxs(states=["Refunded"]) == ["bbbbbbbbbbbbbbbbbbbbb2"]  # a list works too
    assert idxs(types=("Ebanking payment",)) == ["ccccccccccccccccccccc3", "ddddddddddddddddddddd4"]
    assert idxs(min_paisa=5000) == [
        "bbbbbbbbbbbbbbbbbbbbb2",
        "ccccccccccccccccccccc3",
        "ddddddddddddddddddddd4",
    ]
    assert idxs(max_paisa=5000) == ["aaaaaaaaaaaaaaaaaaaaa1", "bbbbbbbbbbbbbbbbbbbbb2"]
    assert idxs(min_paisa=5000, max_paisa=9000) == [
        "bbbbbbbbbbbbbbbbbbbbb2",
        "ccccccccccccccccccccc3",
    ]
    # search: idx, customer name, customer mobile, ebanker; any case, anywhere.
    assert idxs(search="CCCCCCC") == ["ccccccccccccccccccccc3"]
    assert idxs(search="ram th") == ["aaaaaaaaaaaaaaaaaaaaa1"]
    assert idxs(search="11111") == ["bbbbbbbbbbbbbbbbbbbbb2"]
    assert idxs(search="nabil") == ["ccccccccccccccccccccc3"]
    assert idxs(search="  gurung  ") == ["ccccccccccccccccccccc3"]
    assert idxs(search="") == idxs()
    # % and _ are characters to find, not wildcards.
    assert idxs(search="100%") == ["ddddddddddddddddddddd4"]
    assert idxs(search="e_t") == ["ddddddddddddddddddddd4"]
    assert idxs(search="%") == ["ddddddddddddddddddddd4"]
    assert idxs(search="nobody") == []
    combined = TxFilter(
        first_day=date(2024, 5, 10),
        last_day=date(2024, 5, 10),
        states=("Completed",),
        types=("Ebanking payment",),
        min_paisa=100,
        max_paisa=10_000,
        search="sita",
    )
    assert _idxs(store.transactions_page("live", combined)) == ["ccccccccccccccccccccc3"]
    assert store.transactions_summary("live", combined) == (1, 9000)
    assert store.transactions_summary("live", TxFilter()) == (4, 35000)
    assert store.transactions_summary("live", TxFilter(search="nobody")) == (0, 0)


def test_filter_validation() -> None:
    with pytest.raises(ValueError):
        TxFilter(first_day=date(2024, 2, 1), last_day=date(2024, 1, 1))
    with pytest.raises(ValueError):
        TxFilter(min_paisa=500, max_paisa=100)
    with pytest.raises(TypeError):
        TxFilter(first_day=datetime(2024, 1, 1, tzinfo=NPT))
    with pytest.raises(TypeError):
        TxFilter(min_paisa=10.5)  # type: ignore[arg-type]
    assert TxFilter(states=["A"]) == TxFilter(states=("A",))
    assert hash(TxFilter(states=["A"], search=" x ")) == hash(TxFilter(states=("A",), search="x"))


def test_page_order_columns_and_paging(store: Store, make_tx) -> None:
    at = datetime(2024, 8, 1, 9, 0, tzinfo=NPT)
    # Two share one instant: the idx breaks the tie, so pages never overlap.
    rows = [make_tx(f"page{i:018d}", created_on=at + timedelta(minutes=i // 2)) for i in range(7)]
    store.upsert_transactions("live", rows, SEEN)
    page = store.transactions_page("live", TxFilter(), limit=3)
    assert list(page.columns) == PAGE_COLUMNS
    assert str(page["created_on"].dtype).startswith("datetime64")
    assert str(page["created_on"].dt.tz) == "UTC"
    assert page["amount"].dtype == "int64" and page["fee_amount"].dtype == "int64"
    assert page["refunded"].dtype == bool
    everything = []
    for offset in range(0, 9, 3):
        everything += _idxs(store.transactions_page("live", TxFilter(), limit=3, offset=offset))
    assert everything == [f"page{i:018d}" for i in reversed(range(7))]
    empty = store.transactions_page("live", TxFilter(search="nothing"))
    assert list(empty.columns) == PAGE_COLUMNS and len(empty) == 0
    assert str(empty["created_on"].dt.tz) == "UTC"
    with pytest.raises(ValueError):
        store.transactions_page("live", TxFilter(), limit=-1)


def test_iter_transactions_keyset(store: Store, make_tx) -> None:
    at = datetime(2024, 8, 1, 9, 0, tzinfo=NPT)
    # Many rows share instants, so batches must split ties correctly.
    rows = [
        make_tx(f"iter{i:018d}", created_on=at + timedelta(seconds=i // 4), amount=1000 + i)
        for i in range(23)
    ]
    store.upsert_transactions("live", rows, SEEN)
    store.upsert_transactions("test", [make_tx("iter000000000000000000")], SEEN)
    batches = list(store.iter_transactions("live", TxFilter(), batch_size=3))
    assert [len(b) for b in batches] == [3] * 7 + [2]
    flat = [row for batch in batches for row in batch]
    assert [r["idx"] for r in flat] == [f"iter{i:018d}" for i in range(23)]
    assert set(flat[0]) == set(PAGE_COLUMNS)
    assert all(r["created_on"].tzinfo is not None for r in flat)
    assert all(r["created_on"].utcoffset() == timedelta(0) for r in flat)
    assert isinstance(flat[0]["amount"], int) and flat[0]["refunded"] is False
    newest = [
        r["idx"]
        for b in store.iter_transactions("live", TxFilter(), batch_size=5, oldest_first=False)
        for r in b
    ]
    assert newest == [f"iter{i:018d}" for i in reversed(range(23))]
    filtered = [
        r["amount"]
        for b in store.iter_transactions("live", TxFilter(min_paisa=1020), batch_size=2)
        for r in b
    ]
    assert filtered == [1020, 1021, 1022]
    exact = list(store.iter_transactions("live", TxFilter(), batch_size=23))
    assert [len(b) for b in exact] == [23]
    assert list(store.iter_transactions("live", TxFilter(search="zzz"))) == []


def test_find_transactions(store: Store, make_tx) -> None:
    at = datetime(2024, 8, 1, 9, 0, tzinfo=NPT)
    target = make_tx("FindMe0000000000000001", created_on=at)
    # Newer rows that contain the same text: in their idx, in a mobile, in a name.
    newer = [
        make_tx("xxFindMe00000000000001", created_on=at + timedelta(hours=1)),
        make_tx(
            "find000000000000000001",
            created_on=at + timedelta(hours=2),
            customer_mobile="98FINDME00",
        ),
        make_tx(
            "find000000000000000002",
            created_on=at + timedelta(hours=3),
            customer_name="Findme Shrestha",
        ),
    ]
    store.upsert_transactions("live", [target, *newer], SEEN)
    found = store.find_transactions("live", "FindMe0000000000000001")
    assert _idxs(found) == ["FindMe0000000000000001"]
    assert list(found.columns) == PAGE_COLUMNS
    exact_first = store.find_transactions("live", "findme")
    assert _idxs(exact_first) == [
        "find000000000000000002",
        "find000000000000000001",
        "xxFindMe00000000000001",
        "FindMe0000000000000001",
    ]
    # An exact idx comes first even when newer rows also match.
    store.upsert_transactions("live", [make_tx("findme", created_on=at)], SEEN)
    assert _idxs(store.find_transactions("live", "findme"))[0] == "findme"
    assert _idxs(store.find_transactions("live", "98findme")) == ["find000000000000000001"]
    assert len(store.find_transactions("live", "findme", limit=2)) == 2
    assert store.find_transactions("live", "   ").empty
    assert store.find_transactions("test", "FindMe0000000000000001").empty


def test_distinct_values(store: Store, make_tx) -> None:
    store.upsert_transactions(
        "live",
        [
            make_tx(state="Completed", type_name="Wallet payment"),
            make_tx(state="Refunded", type_name="Ebanking payment"),
            make_tx(state="Completed", type_name="Fee"),
        ],
        SEEN,
    )
    store.upsert_transactions("test", [make_tx(state="Initiated", type_name="Card")], SEEN)
    assert store.distinct_values("live", "state") == ["Completed", "Refunded"]
    assert store.distinct_values("live", "type") == ["Ebanking payment", "Fee", "Wallet payment"]
    assert store.distinct_values("test", "state") == ["Initiated"]
    with pytest.raises(ValueError):
        store.distinct_values("live", "amount")  # type: ignore[arg-type]


def test_modes_never_mix(store: Store, make_tx) -> None:
    """The same idx in test and live are two transactions; no read crosses over."""
    idx = "sameIDXsameIDXsameIDX1"
    day = date(2024, 6, 15)
    live = make_tx(idx, amount=111_00, customer_name="Live Person", type_name="Live type")
    test = make_tx(idx, amount=222_00, customer_name="Test Person", state="Refunded")
    store.upsert_transactions("live", [live], SEEN)
    store.upsert_transactions("test", [test], SEEN)
    store.upsert_transactions("test", [make_tx(customer_name="Only Test")], SEEN)
    assert store.count("live") == 1 and store.count("test") == 2
    assert store.all_idxs("live") == {idx}
    assert store.transaction_keys("live", [idx]) == {idx: ("Completed", False, 11100, 30)}
    assert store.transaction_keys("test", [idx]) == {idx: ("Refunded", True, 22200, 30)}
    row = store.transaction("live", idx)
    assert row is not None and row["customer_name"] == "Live Person"
    assert store.transactions_page("live", TxFilter())["amount"].tolist() == [11100]
    assert store.transactions_summary("live", TxFilter()) == (1, 11100)
    assert store.transactions_page("live", TxFilter(search="test person")).empty
    assert store.find_transactions("live", "Only Test").empty
    assert [r["idx"] for b in store.iter_transactions("live", TxFilter()) for r in b] == [idx]
    assert [h["state"] for h in store.state_history("live", idx)] == ["Completed"]
    assert store.state_totals("live", day, day)["state"].tolist() == ["Completed"]
    assert store.volume_series("live", day, day, "day", states=())["amount"].tolist() == [11100]
    assert store.type_totals("live", day, day)["type"].tolist() == ["Live type"]
    assert store.hour_weekday("live", day, day)["amount"].sum() == 11100
    assert store.distinct_values("live", "state") == ["Completed"]
    # Changing the test copy leaves the live one alone.
    store.upsert_transactions("test", [make_tx(idx, amount=1, state="Failed")], SEEN)
    assert store.transaction_keys("live", [idx]) == {idx: ("Completed", False, 11100, 30)}
    assert len(store.state_history("live", idx)) == 1
    assert store.rollup_is_consistent("live") and store.rollup_is_consistent("test")
