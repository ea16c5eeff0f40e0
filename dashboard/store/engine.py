"""Engine construction: SQLite settings for several writers, PostgreSQL pooling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import StaticPool

_SQLITE_PRAGMAS = (
    # How long a writer waits for another process's write to finish before failing (ms).
    "PRAGMA busy_timeout = 30000",
    # WAL lets the dashboard read while the sync process writes.
    "PRAGMA journal_mode = WAL",
    # NORMAL is durable across application crashes in WAL mode; only a power cut can lose
    # the last commits, which the next sync fetches again.
    "PRAGMA synchronous = NORMAL",
    "PRAGMA foreign_keys = ON",
)


def _is_memory_sqlite(url: URL) -> bool:
    database = url.database or ""
    return database in ("", ":memory:") or "mode=memory" in database


def create_store_engine(url: str | URL) -> Engine:
    """An engine for the store; for a SQLite file, its folder is created if missing."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    return sa.create_engine(parsed, pool_pre_ping=True)


def _sqlite_engine(url: URL) -> Engine:
    kwargs: dict[str, Any] = {}
    if _is_memory_sqlite(url):
        # One shared connection, otherwise every pooled connection gets its own empty
        # in-memory database. Good enough for tests and demos, not for concurrency.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        database = url.database or ""
        if database.startswith("file:"):
            database = database[5:].split("?", 1)[0]
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the sqlite3 module (its legacy mode skips BEGIN before
        # SELECT and DDL); _on_begin below issues it instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            for pragma in _SQLITE_PRAGMAS:
                cursor.execute(pragma)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # A deferred transaction that reads and then writes fails at once with
        # SQLITE_BUSY when another writer got in between (busy_timeout cannot help), so
        # write transactions take the write lock up front and wait for it instead.
        if conn.get_execution_options().get("khalti_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")

    return engine
