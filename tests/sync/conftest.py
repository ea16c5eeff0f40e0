from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.store import Store


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """A store on SQLite only, for tests whose point is not the database."""
    opened = Store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    try:
        yield opened
    finally:
        opened.close()
