"""The sync engine's saved state, and aware datetimes everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.nptime import NPT
from dashboard.store import AuditRecord, Store, TxFilter


def test_sync_state_round_trip(store: Store) -> None:
    assert store.get_sync_state("live") == {}
    state = {
        "last_full_sync": "2024-06-01T10:00:00+05:45",
        "pages": [1, 2, 3],
        "newest": {"idx": "8xmeJnNXfoVjCvGcZiiGe7", "amount": 1000},
        "note": "नेपाल",
        "done": True,
        "cursor": None,
    }
    store.save_sync_state("live", state)
    assert store.get_sync_state("live") == state
    assert store.get_sync_state("test") == {}
    store.save_sync_state("live", {"pages": [4]})
    assert store.get_sync_state("live") == {"pages": [4]}
    store.save_sync_state("test", {"pages": [9]})
    assert store.get_sync_state("live") == {"pages": [4]}
    with pytest.raises(TypeError):
        store.save_sync_state("live", ["not", "a", "dict"])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        store.save_sync_state("staging", {})


def test_every_datetime_out_is_aware_utc(store: Store, make_tx) -> None:
    tx = make_tx(created_on=datetime(2024, 1, 1, 0, 30, tzinfo=NPT))
    store.upsert_transactions("live", [tx], datetime(2024, 1, 1, 9, 0, tzinfo=NPT))
    audit_id = store.add_audit(
        AuditRecord(
            mode="live",
            action="lookup",
            reference="pidx",
            amount_paisa=None,
            verdict="completed",
            khalti_state="Completed",
            raw_response=None,
            operator="asha",
            at=datetime(2024, 1, 1, 0, 10, tzinfo=NPT),
        )
    )
    action_id = store.begin_money_action("live", "verify", "tok", 1000, "asha")
    store.finish_money_action(action_id, "succeeded")
    detail = store.transaction("live", tx.idx)
    assert detail is not None
    audit = store.audit_entry("live", audit_id)
    assert audit is not None
    money = store.money_action("live", "verify", "tok")
    assert money is not None
    values = [
        detail["created_on"],
        detail["first_seen"],
        detail["last_seen"],
        *(h["observed_at"] for h in store.state_history("live", tx.idx)),
        *(r["created_on"] for b in store.iter_transactions("live", TxFilter()) for r in b),
        audit["at"],
        money["started_at"],
        money["finished_at"],
    ]
    for value in values:
        assert isinstance(value, datetime)
        assert value.utcoffset() == timedelta(0), value
        assert value.tzinfo is not None
    assert detail["created_on"] == tx.created_on
    assert detail["first_seen"] == datetime(2024, 1, 1, 3, 15, tzinfo=UTC)
    for frame, column in (
        (store.transactions_page("live", TxFilter()), "created_on"),
        (store.find_transactions("live", tx.idx), "created_on"),
        (store.list_audit("live"), "at"),
    ):
        assert str(frame[column].dt.tz) == "UTC"
