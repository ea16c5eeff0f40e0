"""Shared fixtures: a Store on every available backend, and a Transaction factory.

SQLite always runs (a temporary file). PostgreSQL runs when KHALTI_TEST_PG_URL points
at a server (`eval "$(bash scripts/test-postgres.sh)"` starts one); each test then gets its own
fresh schema, dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dashboard.khalti.models import Transaction
from dashboard.nptime import NPT, khalti_isoformat
from dashboard.store import Store

PG_URL_ENV = "KHALTI_TEST_PG_URL"
PG_SKIP_REASON = "PostgreSQL not available: set KHALTI_TEST_PG_URL"

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def pg_admin_engine() -> Iterator[sa.Engine]:
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.skip(PG_SKIP_REASON)
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database on each backend (nothing created in it yet)."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path / "data" / "store.sqlite")
        return
    admin: sa.Engine = request.getfixturevalue("pg_admin_engine")
    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.schema.CreateSchema(schema))
    # Every connection of the store under test sees only this schema.
    url = sa.make_url(os.environ[PG_URL_ENV]).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.schema.DropSchema(schema, cascade=True))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An empty, migrated Store on each backend; closed after the test."""
    opened = Store(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def make_tx() -> Callable[..., Transaction]:
    """Factory for Transactions shaped exactly as the sync engine gets them from Khalti.

    make_tx()                                 a Completed Rs 10 wallet payment
    make_tx("idx", state="Refunded", amount=5000, created_on=datetime(..., tzinfo=NPT))
    Any extra keyword becomes an extra field of the raw API record.
    """
    counter = itertools.count(1)

    def make(
        idx: str | None = None,
        *,
        state: str = "Completed",
        state_template: str | None = None,
        type_name: str = "Wallet payment",
        amount: int = 1000,
        fee_amount: int = 30,
        refunded: bool | None = None,
        created_on: datetime | str = datetime(2024, 6, 15, 12, 0, tzinfo=NPT),
        customer_name: str | None = "Test User",
        customer_mobile: str | None = "9800000001",
        customer_idx: str | None = "cCaPkRPQGn5D8StkiqqMJg",
        ebanker: str | None = None,
        user: bool = True,
        **extra: Any,
    ) -> Transaction:
        number = next(counter)
        record: dict[str, Any] = {
            "idx": idx or f"tx{number:020d}",
            "type": {"idx": "e476BL6jt9kgagEmsakyTL", "name": type_name},
            "state": {
                "idx": "DhvMj9hdRufLqkP8ZY4d8g",
                "name": state,
                "template": state_template or f"is {state.lower()}",
            },
            "amount": amount,
            "fee_amount": fee_amount,
            "refunded": state == "Refunded" if refunded is None else refunded,
            "created_on": created_on
            if isinstance(created_on, str)
            else khalti_isoformat(created_on),
            "ebanker": ebanker,
            "user": {"idx": customer_idx, "name": customer_name, "mobile": customer_mobile}
            if user
            else None,
            "merchant": {
                "idx": "UM75Gm2gWmZvA4TPwkwZye",
                "name": "Test Merchant",
                "mobile": "testmerchant@khalti.com",
            },
        }
        record.update(extra)
        return Transaction.from_api(record)

    return make
