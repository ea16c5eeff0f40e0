"""Schema versions: upgrades in place, agreement with schema.py, engine settings."""

from __future__ import annotations

import json
import threading
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from dashboard.nptime import NPT
from dashboard.store import LATEST_VERSION, SchemaTooNewError, Store, TxFilter
from dashboard.store.engine import create_store_engine
from dashboard.store.migrations import MIGRATIONS, migrate, schema_version
from dashboard.store.schema import metadata
from dashboard.store.types import UTCDateTime

FIRST_SEEN = datetime(2024, 2, 1, 8, 0, tzinfo=UTC)

# The version-1 tables as that release wrote them, to fill an old database.
_v1 = sa.MetaData()
v1_transactions = sa.Table(
    "transactions",
    _v1,
    sa.Column("mode", sa.String(8)),
    sa.Column("idx", sa.String(64)),
    sa.Column("created_at", UTCDateTime()),
    sa.Column("npt_date", sa.Date()),
    sa.Column("npt_week", sa.Date()),
    sa.Column("npt_month", sa.Date()),
    sa.Column("npt_hour", sa.SmallInteger()),
    sa.Column("npt_weekday", sa.SmallInteger()),
    sa.Column("state", sa.String(64)),
    sa.Column("state_template", sa.String(128)),
    sa.Column("type", sa.String(64)),
    sa.Column("amount", sa.BigInteger()),
    sa.Column("fee_amount", sa.BigInteger()),
    sa.Column("refunded", sa.Boolean()),
    sa.Column("ebanker", sa.String(128)),
    sa.Column("customer_name", sa.String(256)),
    sa.Column("customer_mobile", sa.String(64)),
    sa.Column("customer_idx", sa.String(64)),
    sa.Column("raw", sa.Text()),
    sa.Column("first_seen", UTCDateTime()),
    sa.Column("last_seen", UTCDateTime()),
)
v1_sync_state = sa.Table(
    "sync_state",
    _v1,
    sa.Column("mode", sa.String(8)),
    sa.Column("state", sa.Text()),
    sa.Column("updated_at", UTCDateTime()),
)


def _v1_row(mode: str, idx: str, created: datetime, state: str, amount: int, name: str) -> dict:
    local = created.astimezone(NPT)
    day = local.date()
    return {
        "mode": mode,
        "idx": idx,
        "created_at": created,
        "npt_date": day,
        "npt_week": date.fromordinal(day.toordinal() - (day.weekday() + 1) % 7),
        "npt_month": day.replace(day=1),
        "npt_hour": local.hour,
        "npt_weekday": (day.weekday() + 1) % 7,
        "state": state,
        "state_template": None,
        "type": "Wallet payment",
        "amount": amount,
        "fee_amount": 30,
        "refunded": False,
        "ebanker": None,
        "customer_name": name,
        "customer_mobile": "9800000002",
        "customer_idx": None,
        "raw": json.dumps({"idx": idx, "amount": amount}),
        "first_seen": FIRST_SEEN,
        "last_seen": FIRST_SEEN,
    }


def _make_v1_database(url: str) -> None:
    engine = create_store_engine(url)
    try:
        assert migrate(engine, target=1) == 1
        with engine.begin() as conn:
            conn.execute(
                v1_transactions.insert(),
                [
                    _v1_row(
                        "live",
                        "oldLIVEoldLIVEoldLIVE1",
                        datetime(2024, 1, 1, 0, 30, tzinfo=NPT),
                        "Completed",
                        1000,
                        "Ram Thapa",
                    ),
                    _v1_row(
                        "live",
                        "oldLIVEoldLIVEoldLIVE2",
                        datetime(2024, 1, 2, 13, 0, tzinfo=NPT),
                        "Initiated",
                        2500,
                        "Ólafur",
                    ),
                    _v1_row(
                        "test",
                        "oldTESToldTESToldTEST1",
                        datetime(2024, 1, 2, 13, 0, tzinfo=NPT),
                        "Completed",
                        7000,
                        "Sita",
                    ),
                ],
            )
            conn.execute(
                v1_sync_state.insert().values(
                    mode="live",
                    state='{"newest_seen": "oldLIVEoldLIVEoldLIVE2"}',
                    updated_at=FIRST_SEEN,
                )
            )
    finally:
        engine.dispose()


def test_upgrade_from_version_1_keeps_data(store_url: str, make_tx) -> None:
    _make_v1_database(store_url)
    with Store(store_url) as store:
        assert store.schema_version() == LATEST_VERSION
        assert store.count("live") == 2 and store.count("test") == 1
        row = store.transaction("live", "oldLIVEoldLIVEoldLIVE1")
        assert row is not None
        assert row["raw"] == {"idx": "oldLIVEoldLIVEoldLIVE1", "amount": 1000}
        assert row["created_on"] == datetime(2023, 12, 31, 18, 45, tzinfo=UTC)
        assert row["first_seen"] == FIRST_SEEN
        assert store.get_sync_state("live") == {"newest_seen": "oldLIVEoldLIVEoldLIVE2"}
        # Version 2 gave old rows one history entry: what was known when first seen.
        history = store.state_history("live", "oldLIVEoldLIVEoldLIVE2")
        assert [(h["state"], h["observed_at"]) for h in history] == [("Initiated", FIRST_SEEN)]
        # Version 3 built the rollup from old rows.
        assert store.rollup_is_consistent("live") and store.rollup_is_consistent("test")
        totals = store.state_totals("live", date(2024, 1, 1), date(2024, 1, 31))
        assert dict(zip(totals["state"], totals["amount"], strict=True)) == {
            "Completed": 1000,
            "Initiated": 2500,
        }
        # Version 4 filled the search text, including non-ASCII case folding.
        found = store.transactions_page("live", TxFilter(search="ÓLAF"))
        assert found["idx"].tolist() == ["oldLIVEoldLIVEoldLIVE2"]
        assert store.transactions_page("live", TxFilter(search="ram thapa"))["idx"].tolist() == [
            "oldLIVEoldLIVEoldLIVE1"
        ]
        # And old rows take part in syncing like new ones.
        counts = store.upsert_transactions(
            "live",
            [make_tx("oldLIVEoldLIVEoldLIVE2", state="Completed", amount=2500)],
            datetime(2024, 3, 1, tzinfo=UTC),
        )
        assert counts.changed == 1
        assert len(store.state_history("live", "oldLIVEoldLIVEoldLIVE2")) == 2
        assert store.rollup_is_consistent("live")


def test_one_step_at_a_time(store_url: str) -> None:
    _make_v1_database(store_url)
    engine = create_store_engine(store_url)
    try:
        for step in MIGRATIONS[1:]:
            assert migrate(engine, target=step.version) == step.version
        assert migrate(engine) == LATEST_VERSION
        with engine.connect() as conn:
            versions = conn.execute(sa.select(schema_version.c.version)).scalars().all()
        assert sorted(versions) == [m.version for m in MIGRATIONS]
        with pytest.raises(ValueError):
            migrate(engine, target=LATEST_VERSION + 1)
    finally:
        engine.dispose()
    with Store(store_url) as store:
        assert store.count("live") == 2


def test_migrated_schema_matches_schema_py(store: Store, store_url: str) -> None:
    engine = create_store_engine(store_url)
    try:
        inspector = sa.inspect(engine)
        for table in metadata.sorted_tables:
            columns = {c["name"]: c for c in inspector.get_columns(table.name)}
            assert set(columns) == {c.name for c in table.columns}, table.name
            for column in table.columns:
                if not column.primary_key:
                    assert columns[column.name]["nullable"] == column.nullable, column.name
            pk = inspector.get_pk_constraint(table.name)["constrained_columns"]
            assert pk == [c.name for c in table.primary_key.columns], table.name
            found = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes(table.name)}
            for index in table.indexes:
                assert found.get(index.name) == [c.name for c in index.columns], index.name
            assert set(found) == {ix.name for ix in table.indexes}, table.name
    finally:
        engine.dispose()


def test_reopening_runs_nothing_again(store_url: str) -> None:
    Store(store_url).close()
    with Store(store_url) as store:
        assert store.schema_version() == LATEST_VERSION
    engine = create_store_engine(store_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema_version)).scalar() == (
            len(MIGRATIONS)
        )
    engine.dispose()


def test_newer_database_is_refused(store_url: str) -> None:
    Store(store_url).close()
    engine = create_store_engine(store_url)
    with engine.begin() as conn:
        conn.execute(
            schema_version.insert().values(
                version=LATEST_VERSION + 1, description="from the future", applied_at=FIRST_SEEN
            )
        )
    engine.dispose()
    with pytest.raises(SchemaTooNewError):
        Store(store_url)


def test_processes_starting_together_migrate_once(store_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_store() -> None:
        try:
            barrier.wait(timeout=30)
            Store(store_url).close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with Store(store_url) as store:
        assert store.schema_version() == LATEST_VERSION


def test_url_for_display_masks_the_password(store_url: str) -> None:
    url = sa.make_url(store_url)
    if url.get_backend_name() == "postgresql":
        url = url.set(password="s3cret-pw")  # the test server trusts loopback anyway
    with Store(url.render_as_string(hide_password=False)) as store:
        shown = store.url_for_display
        assert "s3cret-pw" not in shown
        if url.password:
            assert "***" in shown
        assert store.backend == url.get_backend_name()


def test_sqlite_settings_and_folder(tmp_path) -> None:
    path = tmp_path / "new" / "nested" / "khalti.sqlite"
    with Store(f"sqlite:///{path}") as store:
        assert path.exists()
        engine = create_store_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        engine.dispose()
        assert store.count("live") == 0


def test_in_memory_sqlite(make_tx) -> None:
    with Store("sqlite://") as store:
        store.upsert_transactions("live", [make_tx()], FIRST_SEEN)
        assert store.count("live") == 1
        assert store.schema_version() == LATEST_VERSION
