"""The verification audit trail."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from dashboard.nptime import NPT
from dashboard.store import AuditRecord, Store

AUDIT_COLUMNS = [
    "id",
    "at",
    "mode",
    "action",
    "reference",
    "amount_paisa",
    "verdict",
    "khalti_state",
    "operator",
    "note",
    "raw_response",
]


def _record(**kw) -> AuditRecord:
    values = {
        "mode": "live",
        "action": "verify",
        "reference": "BVNKCiLZhZipkMGws5hgS8",
        "amount_paisa": 1000,
        "verdict": "verified",
        "khalti_state": "Completed",
        "raw_response": {"idx": "8xmeJnNXfoVjCvGcZiiGe7", "state": {"name": "Completed"}},
        "operator": "asha",
        "at": datetime(2024, 3, 1, 10, 0, tzinfo=NPT),
    }
    values.update(kw)
    return AuditRecord(**values)


def test_add_and_read_back(store: Store) -> None:
    rec = _record(note="customer waited at the counter")
    new_id = store.add_audit(rec)
    assert isinstance(new_id, int)
    entry = store.audit_entry("live", new_id)
    assert entry is not None
    assert entry["id"] == new_id
    assert entry["raw_response"] == rec.raw_response
    assert entry["at"] == rec.at and entry["at"].utcoffset() == timedelta(0)
    for name in ("mode", "action", "reference", "amount_paisa", "verdict", "khalti_state"):
        assert entry[name] == getattr(rec, name)
    assert entry["operator"] == "asha" and entry["note"] == rec.note
    assert store.audit_entry("test", new_id) is None
    assert store.audit_entry("live", new_id + 100) is None


@pytest.mark.parametrize(
    "raw", [None, "<html>502 Bad Gateway</html>", [{"token": "a"}, {"token": "b"}], {"é": "नेपाल"}]
)
def test_raw_response_shapes(store: Store, raw) -> None:
    new_id = store.add_audit(_record(raw_response=raw, amount_paisa=None, khalti_state=None))
    entry = store.audit_entry("live", new_id)
    assert entry is not None and entry["raw_response"] == raw
    frame = store.list_audit("live")
    text = frame.loc[frame["id"] == new_id, "raw_response"].iloc[0]
    if raw is None:
        assert text is None
    else:
        assert json.loads(text) == raw


def test_list_filters_and_order(store: Store) -> None:
    base = datetime(2024, 3, 1, 10, 0, tzinfo=NPT)
    ids = {
        "early": store.add_audit(_record(at=datetime(2024, 2, 29, 23, 50, tzinfo=NPT))),
        # 00:10 NPT on 1 Mar is still 29 Feb in UTC.
        "midnight": store.add_audit(
            _record(at=datetime(2024, 3, 1, 0, 10, tzinfo=NPT), action="lookup", verdict="pending")
        ),
        "status": store.add_audit(
            _record(at=base, action="status_check", reference="8xmeJnNXfoVjCvGcZiiGe7")
        ),
        "bulk": store.add_audit(
            _record(
                at=base + timedelta(hours=1),
                action="bulk_status",
                verdict="not_found",
                operator="bikash",
                note="Batch of Friday",
            )
        ),
        "later": store.add_audit(_record(at=datetime(2024, 3, 2, 9, 0, tzinfo=UTC))),
    }
    store.add_audit(_record(mode="test", at=base))

    def listed(**kw) -> list[int]:
        return store.list_audit("live", **kw)["id"].tolist()

    frame = store.list_audit("live")
    assert list(frame.columns) == AUDIT_COLUMNS
    assert str(frame["at"].dt.tz) == "UTC"
    assert frame["at"].is_monotonic_decreasing
    assert listed() == [ids[k] for k in ("later", "bulk", "status", "midnight", "early")]
    assert set(frame["mode"]) == {"live"}
    assert listed(first_day=date(2024, 3, 1), last_day=date(2024, 3, 1)) == [
        ids["bulk"],
        ids["status"],
        ids["midnight"],
    ]
    assert listed(last_day=date(2024, 2, 29)) == [ids["early"]]
    assert listed(first_day=date(2024, 3, 2)) == [ids["later"]]
    assert listed(action="lookup") == [ids["midnight"]]
    assert listed(verdict="not_found") == [ids["bulk"]]
    assert listed(search="8XMEJN") == [ids["status"]]
    assert listed(search="BIKASH") == [ids["bulk"]]
    assert listed(search="friday") == [ids["bulk"]]
    assert listed(action="verify", verdict="verified", first_day=date(2024, 3, 2)) == [ids["later"]]
    assert listed(limit=2) == [ids["later"], ids["bulk"]]
    assert len(store.list_audit("test")) == 1


def test_empty_list_and_validation(store: Store) -> None:
    empty = store.list_audit("live")
    assert empty.empty and list(empty.columns) == AUDIT_COLUMNS
    with pytest.raises(ValueError):
        store.add_audit(_record(action="steal"))
    with pytest.raises(ValueError):
        store.add_audit(_record(mode="prod"))
    with pytest.raises(ValueError, match="naive"):
        store.add_audit(_record(at=datetime(2024, 3, 1, 10, 0)))
    with pytest.raises(ValueError):
        store.list_audit("prod")
