"""Versioned schema migrations, applied in order inside one locked transaction.

Each step is frozen once released: it declares its own tables in a private MetaData
instead of importing `schema.py`, so later changes to the live schema never rewrite
history. To change the schema, append a new step and update `schema.py` to match
(tests/store/test_migrations.py checks that the two agree).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dashboard.nptime import now_utc
from dashboard.store.types import UTCDateTime, search_text

# Arbitrary constant shared by every process: PostgreSQL advisory lock taken while migrating.
_PG_MIGRATION_LOCK = 0x4B48_5301


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer version of this program."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


def _mode_check(name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint("mode IN ('test', 'live')", name=name)


def _v1_transactions_and_sync_state(conn: Connection) -> None:
    md = sa.MetaData()
    sa.Table(
        "transactions",
        md,
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("idx", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("npt_date", sa.Date(), nullable=False),
        sa.Column("npt_week", sa.Date(), nullable=False),
        sa.Column("npt_month", sa.Date(), nullable=False),
        sa.Column("npt_hour", sa.SmallInteger(), nullable=False),
        sa.Column("npt_weekday", sa.SmallInteger(), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("state_template", sa.String(128)),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded", sa.Boolean(), nullable=False),
        sa.Column("ebanker", sa.String(128)),
        sa.Column("customer_name", sa.String(256)),
        sa.Column("customer_mobile", sa.String(64)),
        sa.Column("customer_idx", sa.String(64)),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("first_seen", UTCDateTime(), nullable=False),
        sa.Column("last_seen", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("mode", "idx", name="pk_transactions"),
        _mode_check("ck_transactions_mode"),
        sa.Index("ix_transactions_mode_created", "mode", "created_at"),
    )
    sa.Table(
        "sync_state",
        md,
        sa.Column("mode", sa.String(8), primary_key=True),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        _mode_check("ck_sync_state_mode"),
    )
    md.create_all(conn)


def _v2_history_audit_money_indexes(conn: Connection) -> None:
    md = sa.MetaData()
    # Only the columns this step needs to reference; the table already exists.
    transactions = sa.Table(
        "transactions",
        md,
        sa.Column("mode", sa.String(8)),
        sa.Column("idx", sa.String(64)),
        sa.Column("created_at", UTCDateTime()),
        sa.Column("state", sa.String(64)),
        sa.Column("type", sa.String(64)),
        sa.Column("amount", sa.BigInteger()),
        sa.Column("fee_amount", sa.BigInteger()),
        sa.Column("refunded", sa.Boolean()),
        sa.Column("first_seen", UTCDateTime()),
    )
    history = sa.Table(
        "transaction_history",
        md,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("idx", sa.String(64), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("refunded", sa.Boolean(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_amount", sa.BigInteger(), nullable=False),
        sa.Column("observed_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mode", "idx"],
            ["transactions.mode", "transactions.idx"],
            name="fk_transaction_history_transaction",
            ondelete="CASCADE",
        ),
        _mode_check("ck_transaction_history_mode"),
        sa.Index("ix_transaction_history_tx", "mode", "idx", "observed_at"),
    )
    audit = sa.Table(
        "audit_log",
        md,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        sa.Column("amount_paisa", sa.BigInteger()),
        sa.Column("verdict", sa.String(64), nullable=False),
        sa.Column("khalti_state", sa.String(64)),
        sa.Column("raw_response", sa.Text()),
        sa.Column("operator", sa.String(128), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("note", sa.Text()),
        _mode_check("ck_audit_log_mode"),
        sa.Index("ix_audit_log_mode_at", "mode", "at"),
        sa.Index("ix_audit_log_mode_reference", "mode", "reference"),
    )
    money = sa.Table(
        "money_actions",
        md,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(128), nullable=False),
        sa.Column("amount_paisa", sa.BigInteger(), nullable=False),
        sa.Column("operator", sa.String(128), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        _mode_check("ck_money_actions_mode"),
        sa.CheckConstraint(
            "outcome IN ('sending', 'succeeded', 'failed', 'unknown')",
            name="ck_money_actions_outcome",
        ),
        # The guard itself: at most one attempt per (mode, kind, reference) that is not
        # known to have failed. The database enforces it, so racing callers in other
        # processes or replicas cannot both win.
        sa.Index(
            "uq_money_actions_active",
            "mode",
            "kind",
            "reference",
            unique=True,
            sqlite_where=sa.text("outcome <> 'failed'"),
            postgresql_where=sa.text("outcome <> 'failed'"),
        ),
        sa.Index("ix_money_actions_lookup", "mode", "kind", "reference", "id"),
    )
    md.create_all(conn, tables=[history, audit, money])

    # Rows synced before history existed get one entry: what we knew when first seen.
    conn.execute(
        history.insert().from_select(
            ["mode", "idx", "state", "refunded", "amount", "fee_amount", "observed_at"],
            sa.select(
                transactions.c.mode,
                transactions.c.idx,
                transactions.c.state,
                transactions.c.refunded,
                transactions.c.amount,
                transactions.c.fee_amount,
                transactions.c.first_seen,
            ),
        )
    )

    # Newest-first pages, date-range summaries and keyset exports all walk this index;
    # carrying state/type/amount lets filters and sums skip the wide table rows.
    sa.Index("ix_transactions_mode_created", transactions.c.mode, transactions.c.created_at).drop(
        conn
    )
    sa.Index(
        "ix_transactions_time",
        transactions.c.mode,
        transactions.c.created_at,
        transactions.c.idx,
        transactions.c.state,
        transactions.c.type,
        transactions.c.amount,
    ).create(conn)


def _v3_hourly_rollup(conn: Connection) -> None:
    md = sa.MetaData()
    transactions = sa.Table(
        "transactions",
        md,
        sa.Column("mode", sa.String(8)),
        sa.Column("npt_date", sa.Date()),
        sa.Column("npt_hour", sa.SmallInteger()),
        sa.Column("state", sa.String(64)),
        sa.Column("type", sa.String(64)),
        sa.Column("npt_week", sa.Date()),
        sa.Column("npt_month", sa.Date()),
        sa.Column("npt_weekday", sa.SmallInteger()),
        sa.Column("amount", sa.BigInteger()),
        sa.Column("fee_amount", sa.BigInteger()),
    )
    # Measured on 1,000,000 rows: grouping the base table by Nepal day took ~160 ms on
    # SQLite even through a covering index, so charts read this rollup instead. One row
    # per (mode, Nepal hour, state, type); upsert_transactions keeps it exact.
    rollup = sa.Table(
        "transaction_hourly",
        md,
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("npt_date", sa.Date(), nullable=False),
        sa.Column("npt_hour", sa.SmallInteger(), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("npt_week", sa.Date(), nullable=False),
        sa.Column("npt_month", sa.Date(), nullable=False),
        sa.Column("npt_weekday", sa.SmallInteger(), nullable=False),
        sa.Column("tx_count", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fee_amount", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "mode", "npt_date", "npt_hour", "state", "type", name="pk_transaction_hourly"
        ),
        _mode_check("ck_transaction_hourly_mode"),
        # Clustered by the key on SQLite, so a date-range scan reads only this table.
        sqlite_with_rowid=False,
    )
    md.create_all(conn, tables=[rollup])
    t = transactions.c
    conn.execute(
        rollup.insert().from_select(
            [
                "mode",
                "npt_date",
                "npt_hour",
                "state",
                "type",
                "npt_week",
                "npt_month",
                "npt_weekday",
                "tx_count",
                "amount",
                "fee_amount",
            ],
            sa.select(
                t.mode,
                t.npt_date,
                t.npt_hour,
                t.state,
                t.type,
                t.npt_week,
                t.npt_month,
                t.npt_weekday,
                sa.func.count(),
                sa.cast(sa.func.sum(t.amount), sa.BigInteger),
                sa.cast(sa.func.sum(t.fee_amount), sa.BigInteger),
            ).group_by(
                t.mode,
                t.npt_date,
                t.npt_hour,
                t.state,
                t.type,
                t.npt_week,
                t.npt_month,
                t.npt_weekday,
            ),
        )
    )


def _v4_search_text(conn: Connection) -> None:
    md = sa.MetaData()
    transactions = sa.Table(
        "transactions",
        md,
        sa.Column("mode", sa.String(8)),
        sa.Column("idx", sa.String(64)),
        sa.Column("created_at", UTCDateTime()),
        sa.Column("state", sa.String(64)),
        sa.Column("type", sa.String(64)),
        sa.Column("amount", sa.BigInteger()),
        sa.Column("customer_name", sa.String(256)),
        sa.Column("customer_mobile", sa.String(64)),
        sa.Column("ebanker", sa.String(128)),
        sa.Column("search_text", sa.Text()),
    )
    t = transactions.c
    # Core has no ADD COLUMN construct; this fixed statement is valid on both backends.
    conn.exec_driver_sql("ALTER TABLE transactions ADD COLUMN search_text TEXT")

    # Filled in Python, not with SQL lower(): SQLite's lower() only knows ASCII, and the
    # value must equal what upsert_transactions computes for new rows (the same
    # function). Should types.search_text ever change, add a step that refills it.
    after: tuple[str, str] | None = None
    while True:
        query = sa.select(t.mode, t.idx, t.customer_name, t.customer_mobile, t.ebanker)
        if after is not None:
            query = query.where(sa.tuple_(t.mode, t.idx) > sa.tuple_(*after))
        rows = conn.execute(query.order_by(t.mode, t.idx).limit(5000)).all()
        if not rows:
            break
        conn.execute(
            sa.update(transactions).where(
                t.mode == sa.bindparam("k_mode"), t.idx == sa.bindparam("k_idx")
            ),
            [
                {
                    "k_mode": row.mode,
                    "k_idx": row.idx,
                    "search_text": search_text(
                        row.idx, row.customer_name, row.customer_mobile, row.ebanker
                    ),
                }
                for row in rows
            ],
        )
        after = (rows[-1].mode, rows[-1].idx)

    # Measured on 1,000,000 rows: a search had to fetch every table row in time order
    # (about 5 s); with the text inside the time index it reads only the index (~0.3 s).
    sa.Index("ix_transactions_time", t.mode, t.created_at, t.idx, t.state, t.type, t.amount).drop(
        conn
    )
    sa.Index(
        "ix_transactions_time",
        t.mode,
        t.created_at,
        t.idx,
        t.state,
        t.type,
        t.amount,
        t.search_text,
    ).create(conn)


def _v5_rollup_value_indexes(conn: Connection) -> None:
    md = sa.MetaData()
    rollup = sa.Table(
        "transaction_hourly",
        md,
        sa.Column("mode", sa.String(8)),
        sa.Column("state", sa.String(64)),
        sa.Column("type", sa.String(64)),
    )
    # distinct_values walks these one value at a time (a loose index scan): ~0.1 ms
    # instead of ~100 ms reading the whole rollup of a 1,000,000-row store.
    sa.Index("ix_transaction_hourly_state", rollup.c.mode, rollup.c.state).create(conn)
    sa.Index("ix_transaction_hourly_type", rollup.c.mode, rollup.c.type).create(conn)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "transactions and sync state", _v1_transactions_and_sync_state),
    Migration(
        2, "history, audit log, money-action guard, time index", _v2_history_audit_money_indexes
    ),
    Migration(3, "hourly rollup for charts", _v3_hourly_rollup),
    Migration(4, "search text in the time index", _v4_search_text),
    Migration(5, "rollup indexes for distinct states and types", _v5_rollup_value_indexes),
)
LATEST_VERSION = MIGRATIONS[-1].version

_version_md = sa.MetaData()
schema_version = sa.Table(
    "schema_version",
    _version_md,
    sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", UTCDateTime(), nullable=False),
)


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database; 0 for an empty database."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    found = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
    return int(found or 0)


def migrate(engine: Engine, target: int | None = None) -> int:
    """Bring the database up to `target` (default: latest); returns the version reached.

    Safe when several processes start at once: SQLite serialises them with BEGIN
    IMMEDIATE (see engine.py), PostgreSQL with an advisory lock, and the version is
    read again after the lock is held. DDL is transactional on both, so a failed step
    leaves the database at the previous version.
    """
    goal = LATEST_VERSION if target is None else target
    if not 0 <= goal <= LATEST_VERSION:
        raise ValueError(f"no schema version {goal}; the latest is {LATEST_VERSION}")
    # Usually there is nothing to do: find that out without waiting for the write lock,
    # which a sync in progress may hold for a while.
    with engine.connect() as conn:
        version = current_version(conn)
    if goal <= version <= LATEST_VERSION:
        return version
    with engine.connect() as conn:
        conn.execution_options(khalti_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_MIGRATION_LOCK)))
            _version_md.create_all(conn, checkfirst=True)
            version = current_version(conn)
            if version > LATEST_VERSION:
                raise SchemaTooNewError(
                    f"The database is at schema version {version}, but this program only "
                    f"knows up to {LATEST_VERSION}. Update the program."
                )
            for step in MIGRATIONS:
                if version < step.version <= goal:
                    step.apply(conn)
                    conn.execute(
                        schema_version.insert().values(
                            version=step.version,
                            description=step.description,
                            applied_at=now_utc(),
                        )
                    )
                    version = step.version
    return version
