"""A database that cannot be opened is one clear error, without the URL in it."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboard.store import Store, StoreUnavailableError


def test_unreachable_postgresql_is_store_unavailable() -> None:
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    url = "postgresql+psycopg://dash:s3cret-pw@127.0.0.1:1/khalti?connect_timeout=2"
    with pytest.raises(StoreUnavailableError) as caught:
        Store(url)
    assert "s3cret-pw" not in str(caught.value)


def test_sqlite_file_that_is_not_a_database_is_store_unavailable(tmp_path: Path) -> None:
    not_a_database = tmp_path / "notes.sqlite3"
    not_a_database.write_bytes(b"these are shop notes, not a database" * 200)
    with pytest.raises(StoreUnavailableError):
        Store(f"sqlite:///{not_a_database}")


def test_malformed_url_is_store_unavailable() -> None:
    with pytest.raises(StoreUnavailableError):
        Store("postgresql+psycopg://[::1")
