"""The current schema, as the queries see it. Changes go through migrations.py first."""

from __future__ import annotations

import sqlalchemy as sa

from dashboard.store.types import UTCDateTime

metadata = sa.MetaData()


def _mode_check(name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint("mode IN ('test', 'live')", name=name)


transactions = sa.Table(
    "transactions",
    metadata,
    sa.Column("mode", sa.String(8), nullable=False),
    sa.Column("idx", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    # Nepal calendar fields, computed in Python on upsert so grouping needs no time-zone
    # arithmetic in SQL (which SQLite cannot do).
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
    # Lower-cased idx, customer name, mobile and ebanker (types.search_text). Carried in
    # the time index, so a search scans that index instead of fetching every row.
    sa.Column("search_text", sa.Text()),
    sa.PrimaryKeyConstraint("mode", "idx", name="pk_transactions"),
    _mode_check("ck_transactions_mode"),
)
sa.Index(
    "ix_transactions_time",
    transactions.c.mode,
    transactions.c.created_at,
    transactions.c.idx,
    transactions.c.state,
    transactions.c.type,
    transactions.c.amount,
    transactions.c.search_text,
)

sync_state = sa.Table(
    "sync_state",
    metadata,
    sa.Column("mode", sa.String(8), primary_key=True),
    sa.Column("state", sa.Text(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    _mode_check("ck_sync_state_mode"),
)

transaction_history = sa.Table(
    "transaction_history",
    metadata,
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

audit_log = sa.Table(
    "audit_log",
    metadata,
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

money_actions = sa.Table(
    "money_actions",
    metadata,
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

transaction_hourly = sa.Table(
    "transaction_hourly",
    metadata,
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
    sa.Index("ix_transaction_hourly_state", "mode", "state"),
    sa.Index("ix_transaction_hourly_type", "mode", "type"),
    sqlite_with_rowid=False,
)

# The columns every transaction listing returns, in order, with their frame dtypes.
TX_COLUMNS: tuple[tuple[str, sa.ColumnElement], ...] = (
    ("idx", transactions.c.idx),
    ("created_on", transactions.c.created_at),
    ("state", transactions.c.state),
    ("type", transactions.c.type),
    ("amount", transactions.c.amount),
    ("fee_amount", transactions.c.fee_amount),
    ("refunded", transactions.c.refunded),
    ("customer_name", transactions.c.customer_name),
    ("customer_mobile", transactions.c.customer_mobile),
    ("ebanker", transactions.c.ebanker),
)
