"""The local database: transactions synced from Khalti, sync state, audit trail, guards.

This package is the only place in the project that speaks SQL (SQLAlchemy Core), on a
SQLite file by default or PostgreSQL for teams. Open it with `Store(url)`; that also
brings the schema up to date (migrations.py).

Layout:
  store.py       the Store class: every query
  models.py      what crosses the boundary: TxFilter, AuditRecord, UpsertCounts, errors
  schema.py      the current tables, as queries see them
  migrations.py  the ordered, frozen steps that build and upgrade a database in place
  engine.py      SQLite settings (WAL, busy timeout, BEGIN IMMEDIATE for writes)
  types.py       UTCDateTime (aware in, aware UTC out), JSON and search-text helpers

Design notes, all measured on 1,000,000 rows (benchmarks/store_bench.py):
  - Instants are stored in UTC; Nepal date, week (from Sunday), month, hour and weekday
    are computed in Python on upsert and stored beside them.
  - Charts and KPIs read `transaction_hourly`, a rollup per (mode, Nepal hour, state,
    type) that upsert_transactions keeps exact in the same database transaction.
  - Listings, summaries, searches and exports walk one covering index on
    (mode, created_at, idx, state, type, amount, search_text).
"""

from dashboard.store.migrations import LATEST_VERSION, SchemaTooNewError
from dashboard.store.models import (
    AUDIT_ACTIONS,
    MODES,
    AuditRecord,
    DuplicateActionError,
    StoreUnavailableError,
    TxFilter,
    UpsertCounts,
)
from dashboard.store.store import Store

__all__ = [
    "AUDIT_ACTIONS",
    "LATEST_VERSION",
    "MODES",
    "AuditRecord",
    "DuplicateActionError",
    "SchemaTooNewError",
    "Store",
    "StoreUnavailableError",
    "TxFilter",
    "UpsertCounts",
]
