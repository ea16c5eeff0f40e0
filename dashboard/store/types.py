"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """An instant: aware datetimes in, UTC-aware datetimes out, on every backend.

    PostgreSQL stores timestamptz. SQLite has no time type, so the value is kept as
    integer microseconds since the Unix epoch: it sorts and compares as numbers (cheap
    in the big indexes), and it cannot be mixed up with a local time the way text can.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.BigInteger())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: an instant needs a time zone")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return (value - _EPOCH) // timedelta(microseconds=1)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            if value.tzinfo is None:  # only if someone wrote to the column outside the store
                return value.replace(tzinfo=UTC)
            return value.astimezone(UTC)
        return _EPOCH + timedelta(microseconds=int(value))


# Between fields in search_text, so a typed search can never match across two fields.
_FIELD_SEPARATOR = "\x1f"


def search_text(*fields: str | None) -> str:
    """The lower-cased text that a transaction search looks through (see schema.py)."""
    return _FIELD_SEPARATOR.join((field or "").lower() for field in fields)


def dump_json(value: Any) -> str:
    """Canonical JSON text, so equal documents compare equal as strings."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)
