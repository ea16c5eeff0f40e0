"""Upserting synced transactions: counts, change detection, history, seen times."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from dashboard.nptime import NPT
from dashboard.store import MODES, Store, TxFilter, UpsertCounts

SEEN_1 = datetime(2024, 7, 1, 9, 0, tzinfo=UTC)
SEEN_2 = datetime(2024, 7, 2, 9, 0, tzinfo=UTC)
SEEN_3 = datetime(2024, 7, 3, 9, 0, tzinfo=NPT)


def test_modes_constant() -> None:
    assert MODES == ("test", "live")


def test_insert_then_repeat_is_idempotent(store: Store, make_tx) -> None:
    txs = [make_tx() for _ in range(5)]
    assert store.upsert_transactions("live", txs, SEEN_1) == UpsertCounts(5, 0, 0)
    assert store.upsert_transactions("live", txs, SEEN_2) == UpsertCounts(0, 0, 5)
    assert store.upsert_transactions("live", txs, SEEN_3) == UpsertCounts(0, 0, 5)
    assert store.count("live") == 5
    for tx in txs:
        assert len(store.state_history("live", tx.idx)) == 1
    assert store.rollup_is_consistent("live")


def test_empty_batch_does_nothing(store: Store) -> None:
    assert store.upsert_transactions("live", [], SEEN_1) == UpsertCounts(0, 0, 0)
    assert store.count("live") == 0


@pytest.mark.parametrize(
    "change",
    [
        {"state": "Refunded"},
        {"refunded": True},
        {"amount": 2000},
        {"fee_amount": 0},
    ],
    ids=["state", "refunded", "amount", "fee"],
)
def test_each_kind_of_change_is_detected_and_kept(store: Store, make_tx, change) -> None:
    before = make_tx("8xmeJnNXfoVjCvGcZiiGe7")
    after = make_tx("8xmeJnNXfoVjCvGcZiiGe7", **change)
    store.upsert_transactions("live", [before], SEEN_1)
    assert store.upsert_transactions("live", [after], SEEN_2) == UpsertCounts(0, 1, 0)
    history = store.state_history("live", before.idx)
    assert [h["observed_at"] for h in history] == [SEEN_1, SEEN_2]
    assert history[0]["state"] == "Completed"
    assert history[-1]["state"] == after.state_name
    assert history[-1]["refunded"] is after.refunded
    row = store.transaction("live", before.idx)
    assert row is not None
    assert (row["state"], row["refunded"], row["amount"], row["fee_amount"]) == (
        after.state_name,
        after.refunded,
        after.amount,
        after.fee_amount,
    )
    assert store.transaction_keys("live", [before.idx]) == {
        before.idx: (after.state_name, after.refunded, after.amount, after.fee_amount)
    }
    assert store.rollup_is_consistent("live")


def test_history_is_oldest_first_and_records_each_change(store: Store, make_tx) -> None:
    idx = "histHISThistHISThist01"
    steps = [("Initiated", SEEN_1), ("Completed", SEEN_2), ("Refunded", SEEN_3)]
    for state, seen in steps:
        store.upsert_transactions("live", [make_tx(idx, state=state)], seen)
        store.upsert_transactions("live", [make_tx(idx, state=state)], seen + timedelta(hours=1))
    history = store.state_history("live", idx)
    assert [(h["state"], h["observed_at"]) for h in history] == steps
    assert [h["refunded"] for h in history] == [False, False, True]
    assert store.state_history("live", "unknown") == []


def test_seen_times(store: Store, make_tx) -> None:
    a, b = make_tx(), make_tx()
    store.upsert_transactions("live", [a, b], SEEN_1)
    store.upsert_transactions("live", [a, replace(b, state_name="Failed")], SEEN_2)
    for tx in (a, b):
        row = store.transaction("live", tx.idx)
        assert row is not None
        assert row["first_seen"] == SEEN_1
        assert row["last_seen"] == SEEN_2
        assert row["first_seen"].tzinfo is not None


def test_duplicate_idx_in_one_batch_keeps_the_last(store: Store, make_tx) -> None:
    first = make_tx("dupDUPdupDUPdupDUPdup1", state="Initiated")
    last = make_tx("dupDUPdupDUPdupDUPdup1", state="Completed")
    assert store.upsert_transactions("live", [first, last], SEEN_1) == UpsertCounts(1, 0, 0)
    row = store.transaction("live", first.idx)
    assert row is not None and row["state"] == "Completed"


def test_other_corrections_are_stored_quietly(store: Store, make_tx) -> None:
    tx = make_tx("quietQUIETquietQUIET01", customer_name="Ram")
    store.upsert_transactions("live", [tx], SEEN_1)
    fixed = make_tx("quietQUIETquietQUIET01", customer_name="Ram Thapa", product_name="Tea")
    assert store.upsert_transactions("live", [fixed], SEEN_2) == UpsertCounts(0, 0, 1)
    row = store.transaction("live", tx.idx)
    assert row is not None
    assert row["customer_name"] == "Ram Thapa"
    assert row["raw"]["product_name"] == "Tea"
    assert len(store.state_history("live", tx.idx)) == 1


def test_moved_time_or_type_moves_the_rollup(store: Store, make_tx) -> None:
    tx = make_tx("moveMOVEmoveMOVEmove01", created_on=datetime(2024, 3, 1, 10, tzinfo=NPT))
    store.upsert_transactions("live", [tx], SEEN_1)
    moved = make_tx(
        "moveMOVEmoveMOVEmove01",
        created_on=datetime(2024, 3, 2, 11, tzinfo=NPT),
        type_name="Ebanking payment",
    )
    assert store.upsert_transactions("live", [moved], SEEN_2) == UpsertCounts(0, 0, 1)
    assert store.rollup_is_consistent("live")
    series = store.volume_series("live", date(2024, 3, 1), date(2024, 3, 2), "day")
    assert series["period"].tolist() == [date(2024, 3, 2)]
    assert store.distinct_values("live", "type") == ["Ebanking payment"]


def test_failed_batch_writes_nothing(store: Store, make_tx) -> None:
    good = make_tx()
    # A naive time cannot be placed on the Nepal calendar; the whole call must roll back.
    bad = replace(make_tx(), created_on=datetime(2024, 1, 1, 12, 0))
    with pytest.raises(ValueError, match="naive"):
        store.upsert_transactions("live", [good, bad], SEEN_1)
    assert store.count("live") == 0
    assert store.date_span("live") is None


def test_rejects_bad_mode_and_naive_seen_at(store: Store, make_tx) -> None:
    with pytest.raises(ValueError, match="mode"):
        store.upsert_transactions("prod", [make_tx()], SEEN_1)
    with pytest.raises(ValueError, match="naive"):
        store.upsert_transactions("live", [make_tx()], datetime(2024, 1, 1))
    for call in (
        lambda: store.count("LIVE"),
        lambda: store.all_idxs(""),
        lambda: store.transactions_page("sandbox", TxFilter()),
        lambda: store.get_sync_state("x"),
    ):
        with pytest.raises(ValueError):
            call()


def test_keys_idxs_and_count(store: Store, make_tx) -> None:
    txs = [make_tx(amount=1000 * (i + 1), fee_amount=i) for i in range(3)]
    store.upsert_transactions("test", txs, SEEN_1)
    assert store.count("test") == 3
    assert store.all_idxs("test") == {tx.idx for tx in txs}
    keys = store.transaction_keys("test", [txs[0].idx, txs[2].idx, "missing", txs[0].idx])
    assert keys == {
        txs[0].idx: ("Completed", False, 1000, 0),
        txs[2].idx: ("Completed", False, 3000, 2),
    }
    assert store.transaction_keys("test", []) == {}


def test_large_batch_crosses_chunk_boundaries(store: Store, make_tx) -> None:
    txs = [make_tx() for _ in range(1234)]
    assert store.upsert_transactions("live", txs, SEEN_1).inserted == 1234
    changed = [replace(tx, state_name="Refunded") if i % 3 == 0 else tx for i, tx in enumerate(txs)]
    counts = store.upsert_transactions("live", changed, SEEN_2)
    assert counts == UpsertCounts(0, 412, 822)
    assert len(store.transaction_keys("live", [tx.idx for tx in txs])) == 1234
    assert store.rollup_is_consistent("live")


def test_rollup_stays_exact_under_random_changes(store: Store, make_tx) -> None:
    rng = random.Random(20240615)
    states = ["Completed", "Completed", "Initiated", "Refunded", "Failed"]
    types = ["Wallet payment", "Ebanking payment", "Fee"]
    current: dict[str, object] = {}
    base = datetime(2024, 1, 31, 20, 0, tzinfo=NPT)
    idxs = [f"roll{i:018d}" for i in range(120)]
    for round_no in range(8):
        batch = []
        for idx in rng.sample(idxs, 40):
            tx = make_tx(
                idx,
                state=rng.choice(states),
                type_name=rng.choice(types),
                amount=rng.randrange(1000, 9000),
                fee_amount=rng.randrange(0, 50),
                created_on=base + timedelta(hours=rng.randrange(0, 72)),
            )
            batch.append(tx)
            current[idx] = tx
        store.upsert_transactions("live", batch, SEEN_1 + timedelta(minutes=round_no))
        assert store.rollup_is_consistent("live")
    totals = store.state_totals("live", date(2024, 1, 1), date(2024, 12, 31))
    expected = Counter()
    amounts = Counter()
    for tx in current.values():
        expected[tx.state_name] += 1
        amounts[tx.state_name] += tx.amount
    assert dict(zip(totals["state"], totals["count"], strict=True)) == dict(expected)
    assert dict(zip(totals["state"], totals["amount"], strict=True)) == dict(amounts)
    store.rebuild_rollup("live")
    assert store.rollup_is_consistent("live")


def test_emptied_rollup_cells_disappear(store: Store, make_tx) -> None:
    tx = make_tx("goneGONEgoneGONEgone01", state="Initiated")
    store.upsert_transactions("live", [tx], SEEN_1)
    assert store.distinct_values("live", "state") == ["Initiated"]
    store.upsert_transactions("live", [replace(tx, state_name="Completed")], SEEN_2)
    assert store.distinct_values("live", "state") == ["Completed"]
    totals = store.state_totals("live", date(2024, 1, 1), date(2024, 12, 31))
    assert totals["state"].tolist() == ["Completed"]


def test_transaction_detail(store: Store, make_tx) -> None:
    tx = make_tx(
        "detailDETAILdetail0001",
        state_template="is complete",
        ebanker="Nabil Bank",
        created_on="2018-06-20T14:48:08.867125+05:45",
        meta={"product_name": "Tea"},
    )
    store.upsert_transactions("live", [tx], SEEN_1)
    row = store.transaction("live", tx.idx)
    assert row is not None
    assert row["created_on"] == datetime(2018, 6, 20, 9, 3, 8, 867125, tzinfo=UTC)
    assert row["created_on"].utcoffset() == timedelta(0)
    assert row["npt_date"] == date(2018, 6, 20)
    assert row["raw"] == dict(tx.raw)
    assert row["raw"]["meta"] == {"product_name": "Tea"}
    assert row["ebanker"] == "Nabil Bank"
    assert row["state_template"] == "is complete"
    assert row["customer_idx"] == "cCaPkRPQGn5D8StkiqqMJg"
    assert store.transaction("live", "nope") is None
    assert store.transaction("test", tx.idx) is None


def test_transaction_without_user(store: Store, make_tx) -> None:
    tx = make_tx(user=False)
    store.upsert_transactions("live", [tx], SEEN_1)
    row = store.transaction("live", tx.idx)
    assert row is not None
    assert row["customer_name"] is None and row["customer_mobile"] is None
