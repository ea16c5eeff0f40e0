"""The Store: every SQL statement the dashboard runs lives here."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Row
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from dashboard.khalti.models import Transaction
from dashboard.nptime import (
    day_start_utc,
    month_start,
    now_utc,
    to_npt,
    to_utc,
    week_start,
    weekday_index,
)
from dashboard.store.engine import create_store_engine
from dashboard.store.migrations import current_version, migrate
from dashboard.store.models import (
    AUDIT_ACTIONS,
    BLOCKING_OUTCOMES,
    MONEY_OUTCOMES,
    AuditRecord,
    DuplicateActionError,
    StoreUnavailableError,
    TxFilter,
    UpsertCounts,
    check_day_range,
    check_mode,
)
from dashboard.store.schema import (
    TX_COLUMNS,
    audit_log,
    money_actions,
    sync_state,
    transaction_history,
    transaction_hourly,
    transactions,
)
from dashboard.store.types import dump_json, load_json, search_text

# Keys per IN (...) list: far below SQLite's variable limit, and plans stay cached.
_CHUNK = 500

# PostgreSQL advisory locks that serialise upserts per mode: upsert reads what is stored
# and then decides between insert and update, so two syncs of one mode must take turns.
# (SQLite gets the same from BEGIN IMMEDIATE.)
_PG_UPSERT_LOCK = {"test": 0x4B48_5310, "live": 0x4B48_5311}

# Everything upsert writes from a Transaction, besides the key and the seen times.
_STORED = (
    "created_at",
    "npt_date",
    "npt_week",
    "npt_month",
    "npt_hour",
    "npt_weekday",
    "state",
    "state_template",
    "type",
    "amount",
    "fee_amount",
    "refunded",
    "ebanker",
    "customer_name",
    "customer_mobile",
    "customer_idx",
    "raw",
    "search_text",
)
# A difference in these is a change of the payment (counted, and kept in the history).
_CHANGE_FIELDS = ("state", "refunded", "amount", "fee_amount")
# The rollup cell a row counts in, and what it adds to it.
_CELL_FIELDS = ("npt_date", "npt_hour", "state", "type")
_ROLLUP_FIELDS = (*_CELL_FIELDS, "amount", "fee_amount")

_TX_NAMES = tuple(name for name, _ in TX_COLUMNS)
_TX_DTYPES = {
    "created_on": "utc",
    "amount": "int64",
    "fee_amount": "int64",
    "refunded": "bool",
}
_AUDIT_COLUMNS = (
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
)


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _frame(
    rows: Sequence[Sequence[Any]], columns: Sequence[str], dtypes: Mapping[str, str]
) -> pd.DataFrame:
    """A DataFrame with stable dtypes, also when there are no rows."""
    frame = pd.DataFrame.from_records(list(rows), columns=list(columns))
    for name, dtype in dtypes.items():
        if dtype == "utc":
            frame[name] = pd.to_datetime(frame[name], utc=True).dt.as_unit("us")
        else:
            frame[name] = frame[name].astype(dtype)
    return frame


def _tx_values(mode: str, tx: Transaction, seen: datetime) -> dict[str, Any]:
    created = to_utc(tx.created_on)
    local = to_npt(created)
    day = local.date()
    user = tx.user
    return {
        "mode": mode,
        "idx": tx.idx,
        "created_at": created,
        "npt_date": day,
        "npt_week": week_start(day),
        "npt_month": month_start(day),
        "npt_hour": local.hour,
        "npt_weekday": weekday_index(day),
        "state": tx.state_name,
        "state_template": tx.state_template,
        "type": tx.type_name,
        "amount": int(tx.amount),
        "fee_amount": int(tx.fee_amount),
        "refunded": bool(tx.refunded),
        "ebanker": tx.ebanker,
        "customer_name": user.name if user else None,
        "customer_mobile": user.mobile if user else None,
        "customer_idx": user.idx if user else None,
        "raw": dump_json(dict(tx.raw)),
        "search_text": search_text(
            tx.idx,
            user.name if user else None,
            user.mobile if user else None,
            tx.ebanker,
        ),
        "first_seen": seen,
        "last_seen": seen,
    }


class _RollupDelta:
    """Net changes to the hourly rollup cells within one upsert."""

    def __init__(self) -> None:
        # (npt_date, npt_hour, state, type) -> [count, amount, fee]
        self.cells: defaultdict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0])

    def add(self, row: Mapping[str, Any], sign: int) -> None:
        cell = self.cells[tuple(row[name] for name in _CELL_FIELDS)]
        cell[0] += sign
        cell[1] += sign * int(row["amount"])
        cell[2] += sign * int(row["fee_amount"])

    def rows(self, mode: str) -> list[dict[str, Any]]:
        out = []
        for (day, hour, state, type_name), (count, amount, fee) in self.cells.items():
            if count == amount == fee == 0:  # a row moved out of the cell and back in
                continue
            out.append(
                {
                    "mode": mode,
                    "npt_date": day,
                    "npt_hour": hour,
                    "state": state,
                    "type": type_name,
                    "npt_week": week_start(day),
                    "npt_month": month_start(day),
                    "npt_weekday": weekday_index(day),
                    "tx_count": count,
                    "amount": amount,
                    "fee_amount": fee,
                }
            )
        return out


class Store:
    """The merchant's local copy of Khalti data, on SQLite or PostgreSQL.

    Thread-safe (one Store can serve every Streamlit session) and safe alongside other
    processes using the same database. Every method takes the mode ("test" or "live")
    and never returns the other mode's rows.
    """

    def __init__(self, url: str | sa.URL) -> None:
        try:
            self._engine = create_store_engine(url)
        except (SQLAlchemyError, OSError, ValueError) as exc:
            # The message names the problem, never the URL (it may hold a password).
            reason = type(exc).__name__
            raise StoreUnavailableError(f"the database URL is unusable ({reason})") from exc
        self._dialect = self._engine.dialect.name
        if self._dialect not in ("sqlite", "postgresql"):
            self._engine.dispose()
            raise ValueError(f"the store supports SQLite and PostgreSQL, not {self._dialect}")
        try:
            migrate(self._engine)
        except (SQLAlchemyError, OSError) as exc:
            self._engine.dispose()
            raise StoreUnavailableError(
                f"the database could not be opened ({type(exc).__name__})"
            ) from exc

    # -- housekeeping ---------------------------------------------------------------

    @property
    def url_for_display(self) -> str:
        """The database URL with any password masked."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def backend(self) -> str:
        """ "sqlite" or "postgresql"."""
        return self._dialect

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def schema_version(self) -> int:
        with self._read() as conn:
            return current_version(conn)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self, pg_lock: int | None = None) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(khalti_write=True)  # BEGIN IMMEDIATE on SQLite
            with conn.begin():
                if pg_lock is not None and self._dialect == "postgresql":
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(pg_lock)))
                yield conn

    def _insert(self, table: sa.Table) -> Any:
        """INSERT that understands ON CONFLICT on this backend."""
        if self._dialect == "postgresql":
            return pg_dialect.insert(table)
        return sqlite_dialect.insert(table)

    # -- sync support ---------------------------------------------------------------

    def upsert_transactions(
        self, mode: str, txs: Sequence[Transaction], seen_at: datetime
    ) -> UpsertCounts:
        """Store what Khalti reported, in one database transaction; safe to repeat.

        `changed` counts rows whose state, refunded flag, amount or fee differ from what
        was stored; each insert and change appends to the state history (observed_at =
        seen_at). Other corrections are saved but count as unchanged. Every row passed
        gets last_seen = seen_at. Concurrent calls for one mode take turns.
        """
        check_mode(mode)
        seen = to_utc(seen_at)
        # A page boundary that shifts during a sync can repeat a record: the last wins.
        latest = {tx.idx: tx for tx in txs}
        if not latest:
            return UpsertCounts(0, 0, 0)
        t = transactions.c
        inserted: list[dict[str, Any]] = []
        rewritten: list[dict[str, Any]] = []
        unchanged: list[str] = []
        history: list[dict[str, Any]] = []
        delta = _RollupDelta()
        changed = 0
        with self._write(_PG_UPSERT_LOCK[mode]) as conn:
            existing: dict[str, Row[Any]] = {}
            idxs = list(latest)
            for chunk in _chunks(idxs):
                query = sa.select(t.idx, *(t[name] for name in _STORED)).where(
                    t.mode == mode, t.idx.in_(chunk)
                )
                existing.update((row.idx, row) for row in conn.execute(query))
            for idx, tx in latest.items():
                new = _tx_values(mode, tx, seen)
                old = existing.get(idx)
                if old is None:
                    inserted.append(new)
                    delta.add(new, +1)
                else:
                    old_values = old._mapping
                    if all(new[name] == old_values[name] for name in _STORED):
                        unchanged.append(idx)
                        continue
                    # Anything else Khalti corrected (a name, the raw record) is refreshed
                    # quietly; only a change of the payment itself is counted and kept.
                    if any(new[name] != old_values[name] for name in _CHANGE_FIELDS):
                        changed += 1
                        history.append(new)
                    if any(new[name] != old_values[name] for name in _ROLLUP_FIELDS):
                        delta.add(old_values, -1)
                        delta.add(new, +1)
                    row = {name: new[name] for name in _STORED}
                    row.update(k_mode=mode, k_idx=idx, last_seen=seen)
                    rewritten.append(row)
            if inserted:
                conn.execute(sa.insert(transactions), inserted)
                history[:0] = inserted
            if rewritten:
                conn.execute(
                    sa.update(transactions).where(
                        t.mode == sa.bindparam("k_mode"), t.idx == sa.bindparam("k_idx")
                    ),
                    rewritten,
                )
            for chunk in _chunks(unchanged):
                conn.execute(
                    sa.update(transactions)
                    .where(t.mode == mode, t.idx.in_(chunk))
                    .values(last_seen=seen)
                )
            if history:
                conn.execute(
                    sa.insert(transaction_history),
                    [
                        {
                            "mode": mode,
                            "idx": row["idx"],
                            "state": row["state"],
                            "refunded": row["refunded"],
                            "amount": row["amount"],
                            "fee_amount": row["fee_amount"],
                            "observed_at": seen,
                        }
                        for row in history
                    ],
                )
            self._apply_rollup(conn, mode, delta)
        return UpsertCounts(len(inserted), changed, len(latest) - len(inserted) - changed)

    def _apply_rollup(self, conn: Connection, mode: str, delta: _RollupDelta) -> None:
        rows = delta.rows(mode)
        if not rows:
            return
        r = transaction_hourly.c
        stmt = self._insert(transaction_hourly)
        stmt = stmt.on_conflict_do_update(
            index_elements=[r.mode, r.npt_date, r.npt_hour, r.state, r.type],
            set_={
                "tx_count": r.tx_count + stmt.excluded.tx_count,
                "amount": r.amount + stmt.excluded.amount,
                "fee_amount": r.fee_amount + stmt.excluded.fee_amount,
            },
        )
        conn.execute(stmt, rows)
        emptied = [row for row in rows if row["tx_count"] < 0]
        if emptied:
            # Cells whose last row moved away: drop them, so charts omit empty periods.
            conn.execute(
                sa.delete(transaction_hourly).where(
                    r.mode == sa.bindparam("mode"),
                    r.npt_date == sa.bindparam("npt_date"),
                    r.npt_hour == sa.bindparam("npt_hour"),
                    r.state == sa.bindparam("state"),
                    r.type == sa.bindparam("type"),
                    r.tx_count == 0,
                ),
                [{k: row[k] for k in ("mode", *_CELL_FIELDS)} for row in emptied],
            )

    def rebuild_rollup(self, mode: str) -> None:
        """Recompute the chart rollup of one mode from the transactions themselves."""
        check_mode(mode)
        t = transactions.c
        group = (
            t.mode,
            t.npt_date,
            t.npt_hour,
            t.state,
            t.type,
            t.npt_week,
            t.npt_month,
            t.npt_weekday,
        )
        with self._write(_PG_UPSERT_LOCK[mode]) as conn:
            conn.execute(sa.delete(transaction_hourly).where(transaction_hourly.c.mode == mode))
            conn.execute(
                sa.insert(transaction_hourly).from_select(
                    [c.name for c in group] + ["tx_count", "amount", "fee_amount"],
                    sa.select(
                        *group,
                        sa.func.count(),
                        sa.cast(sa.func.sum(t.amount), sa.BigInteger),
                        sa.cast(sa.func.sum(t.fee_amount), sa.BigInteger),
                    )
                    .where(t.mode == mode)
                    .group_by(*group),
                )
            )

    def rollup_is_consistent(self, mode: str) -> bool:
        """True when the chart rollup matches the transactions exactly (full scan)."""
        check_mode(mode)
        t, r = transactions.c, transaction_hourly.c
        key = (t.npt_date, t.npt_hour, t.state, t.type, t.npt_week, t.npt_month, t.npt_weekday)
        base = (
            sa.select(
                *key,
                sa.func.count(),
                sa.cast(sa.func.sum(t.amount), sa.BigInteger),
                sa.cast(sa.func.sum(t.fee_amount), sa.BigInteger),
            )
            .where(t.mode == mode)
            .group_by(*key)
        )
        rolled = sa.select(
            r.npt_date,
            r.npt_hour,
            r.state,
            r.type,
            r.npt_week,
            r.npt_month,
            r.npt_weekday,
            r.tx_count,
            r.amount,
            r.fee_amount,
        ).where(r.mode == mode)
        with self._read() as conn:
            expected = {tuple(row) for row in conn.execute(base)}
            actual = {tuple(row) for row in conn.execute(rolled)}
        return expected == actual

    def get_sync_state(self, mode: str) -> dict[str, Any]:
        """The sync engine's saved state for this mode; {} if it never saved one."""
        check_mode(mode)
        with self._read() as conn:
            text = conn.execute(
                sa.select(sync_state.c.state).where(sync_state.c.mode == mode)
            ).scalar()
        return {} if text is None else dict(load_json(text))

    def save_sync_state(self, mode: str, state: dict[str, Any]) -> None:
        check_mode(mode)
        if not isinstance(state, Mapping):
            raise TypeError("sync state must be a dict")
        values = {"mode": mode, "state": dump_json(dict(state)), "updated_at": now_utc()}
        stmt = self._insert(sync_state).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[sync_state.c.mode],
            set_={"state": stmt.excluded.state, "updated_at": stmt.excluded.updated_at},
        )
        with self._write() as conn:
            conn.execute(stmt)

    def count(self, mode: str) -> int:
        check_mode(mode)
        with self._read() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(transactions)
                    .where(transactions.c.mode == mode)
                ).scalar_one()
            )

    def all_idxs(self, mode: str) -> set[str]:
        check_mode(mode)
        with self._read() as conn:
            return set(
                conn.execute(sa.select(transactions.c.idx).where(transactions.c.mode == mode))
                .scalars()
                .all()
            )

    def transaction_keys(
        self, mode: str, idxs: Sequence[str]
    ) -> dict[str, tuple[str, bool, int, int]]:
        """idx -> (state, refunded, amount, fee) for those of `idxs` that are stored."""
        check_mode(mode)
        t = transactions.c
        wanted = list(dict.fromkeys(idxs))
        found: dict[str, tuple[str, bool, int, int]] = {}
        with self._read() as conn:
            for chunk in _chunks(wanted):
                query = sa.select(t.idx, t.state, t.refunded, t.amount, t.fee_amount).where(
                    t.mode == mode, t.idx.in_(chunk)
                )
                for row in conn.execute(query):
                    found[row.idx] = (
                        row.state,
                        bool(row.refunded),
                        int(row.amount),
                        int(row.fee_amount),
                    )
        return found

    # -- reading transactions -------------------------------------------------------

    @staticmethod
    def _conditions(mode: str, f: TxFilter) -> list[sa.ColumnElement[bool]]:
        # Only columns of ix_transactions_time: summaries and _listing must be answerable
        # from that index alone. A new filter on another column needs it in the index.
        check_mode(mode)
        t = transactions.c
        conditions: list[sa.ColumnElement[bool]] = [t.mode == mode]
        # Nepal days become a UTC instant range, so the time index does the filtering.
        if f.first_day is not None:
            conditions.append(t.created_at >= day_start_utc(f.first_day))
        if f.last_day is not None:
            conditions.append(t.created_at < day_start_utc(f.last_day + timedelta(days=1)))
        if f.states:
            conditions.append(t.state.in_(f.states))
        if f.types:
            conditions.append(t.type.in_(f.types))
        if f.min_paisa is not None:
            conditions.append(t.amount >= f.min_paisa)
        if f.max_paisa is not None:
            conditions.append(t.amount <= f.max_paisa)
        if f.search:
            conditions.append(_text_match(f.search))
        return conditions

    @staticmethod
    def _listing(
        conditions: Sequence[sa.ColumnElement[bool]],
        *,
        newest_first: bool,
        limit: int,
        offset: int = 0,
    ) -> sa.Select[Any]:
        """Listing columns of matching rows in time order, found through the time index.

        The keys are picked first from ix_transactions_time alone (every filter column is
        in it), then only those rows are read. PostgreSQL cannot filter inside a plain
        index scan, so without this a search fetched every table row: 5 s instead of
        0.5 s on 1,000,000 rows. SQLite gets the same plan either way.
        """
        t = transactions.c
        if newest_first:
            order = (t.created_at.desc(), t.idx.desc())
        else:
            order = (t.created_at.asc(), t.idx.asc())
        keys = (
            sa.select(t.mode, t.idx)
            .where(*conditions)
            .order_by(*order)
            .limit(limit)
            .offset(offset)
            .subquery("picked")
        )
        return (
            sa.select(*(col.label(name) for name, col in TX_COLUMNS))
            .join_from(transactions, keys, sa.and_(t.mode == keys.c.mode, t.idx == keys.c.idx))
            .order_by(*order)
        )

    def transactions_page(
        self, mode: str, f: TxFilter, *, limit: int = 50, offset: int = 0
    ) -> pd.DataFrame:
        """One page of matching transactions, newest first."""
        if limit < 0 or offset < 0:
            raise ValueError("limit and offset cannot be negative")
        query = self._listing(
            self._conditions(mode, f), newest_first=True, limit=limit, offset=offset
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return _frame(rows, _TX_NAMES, _TX_DTYPES)

    def transactions_summary(self, mode: str, f: TxFilter) -> tuple[int, int]:
        """(how many match, their total amount in paisa)."""
        query = sa.select(
            sa.func.count(),
            sa.cast(sa.func.coalesce(sa.func.sum(transactions.c.amount), 0), sa.BigInteger),
        ).where(*self._conditions(mode, f))
        with self._read() as conn:
            count, total = conn.execute(query).one()
        return int(count), int(total)

    def iter_transactions(
        self, mode: str, f: TxFilter, *, batch_size: int = 5000, oldest_first: bool = True
    ) -> Iterator[list[dict[str, Any]]]:
        """Every matching transaction, in batches, for exports of any size.

        Keyset pagination on (created_at, idx): memory stays at one batch, and each batch
        is its own short read, so a slow consumer never pins an old SQLite snapshot or
        holds a PostgreSQL transaction open. Rows synced mid-export may or may not appear.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        t = transactions.c
        conditions = self._conditions(mode, f)
        after: tuple[datetime, str] | None = None
        while True:
            page = list(conditions)
            if after is not None:
                at, idx = after
                # The plain range lets the index seek; the OR resolves ties on one instant.
                if oldest_first:
                    page += [t.created_at >= at, sa.or_(t.created_at > at, t.idx > idx)]
                else:
                    page += [t.created_at <= at, sa.or_(t.created_at < at, t.idx < idx)]
            query = self._listing(page, newest_first=not oldest_first, limit=batch_size)
            with self._read() as conn:
                batch = [dict(row._mapping) for row in conn.execute(query)]
            if not batch:
                return
            for row in batch:
                row["refunded"] = bool(row["refunded"])
            yield batch
            if len(batch) < batch_size:
                return
            after = (batch[-1]["created_on"], batch[-1]["idx"])

    def transaction(self, mode: str, idx: str) -> dict[str, Any] | None:
        """One transaction: the listing columns plus raw (Khalti's record), first/last seen."""
        check_mode(mode)
        t = transactions.c
        query = sa.select(
            *(col.label(name) for name, col in TX_COLUMNS),
            t.state_template,
            t.customer_idx,
            t.npt_date,
            t.raw,
            t.first_seen,
            t.last_seen,
        ).where(t.mode == mode, t.idx == idx)
        with self._read() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        out = dict(row._mapping)
        out["refunded"] = bool(out["refunded"])
        out["raw"] = load_json(out["raw"])
        return out

    def state_history(self, mode: str, idx: str) -> list[dict[str, Any]]:
        """Every observed state of one transaction (with amount and fee), oldest first."""
        check_mode(mode)
        h = transaction_history.c
        query = (
            sa.select(h.state, h.refunded, h.amount, h.fee_amount, h.observed_at)
            .where(h.mode == mode, h.idx == idx)
            # In the order the changes were stored, which is the order change detection
            # saw them; observed_at is the caller's clock and may disagree across writers.
            .order_by(h.id)
        )
        with self._read() as conn:
            return [{**row._mapping, "refunded": bool(row.refunded)} for row in conn.execute(query)]

    def distinct_values(self, mode: str, column: Literal["state", "type"]) -> list[str]:
        """The states or types present in this mode, sorted, for filter widgets."""
        check_mode(mode)
        if column not in ("state", "type"):
            raise ValueError("column must be 'state' or 'type'")
        r = transaction_hourly.c
        col = r.state if column == "state" else r.type
        # A loose index scan: each step seeks the next larger value in the (mode, column)
        # index, so the cost follows the handful of values, not the size of the rollup.
        found = (
            sa.select(sa.func.min(col).label("value"))
            .where(r.mode == mode)
            .cte("found", recursive=True)
        )
        following = (
            sa.select(sa.func.min(col)).where(r.mode == mode, col > found.c.value).scalar_subquery()
        )
        found = found.union_all(sa.select(following).where(found.c.value.is_not(None)))
        query = sa.select(found.c.value).where(found.c.value.is_not(None)).order_by(found.c.value)
        with self._read() as conn:
            return list(conn.execute(query).scalars())

    def find_transactions(self, mode: str, text: str, limit: int = 20) -> pd.DataFrame:
        """Quick search: an exact idx first, then substring matches, newest first."""
        check_mode(mode)
        needle = (text or "").strip()
        if not needle or limit <= 0:
            return _frame([], _TX_NAMES, _TX_DTYPES)
        t = transactions.c
        exact = sa.select(*(col.label(name) for name, col in TX_COLUMNS)).where(
            t.mode == mode, t.idx == needle
        )
        others = self._listing(
            [t.mode == mode, t.idx != needle, _text_match(needle)], newest_first=True, limit=limit
        )
        with self._read() as conn:
            rows = list(conn.execute(exact).all())
            rows += conn.execute(others).all()
        return _frame(rows[:limit], _TX_NAMES, _TX_DTYPES)

    # -- aggregates for charts and KPIs ---------------------------------------------

    @staticmethod
    def _rollup_conditions(
        mode: str, first_day: date, last_day: date, states: Sequence[str] = ()
    ) -> list[sa.ColumnElement[bool]]:
        check_mode(mode)
        check_day_range(first_day, last_day)
        r = transaction_hourly.c
        conditions = [r.mode == mode, r.npt_date >= first_day, r.npt_date <= last_day]
        if isinstance(states, str):
            states = (states,)
        if states:
            conditions.append(r.state.in_(tuple(states)))
        return conditions

    def _aggregate(
        self,
        keys: Sequence[tuple[str, sa.ColumnElement[Any]]],
        conditions: list[sa.ColumnElement[bool]],
        measures: Sequence[str],
        order_by: Sequence[Any],
    ) -> pd.DataFrame:
        r = transaction_hourly.c
        sums = {
            "count": r.tx_count,
            "amount": r.amount,
            "fee": r.fee_amount,
        }
        query = (
            sa.select(
                *(col.label(name) for name, col in keys),
                *(sa.cast(sa.func.sum(sums[m]), sa.BigInteger).label(m) for m in measures),
            )
            .where(*conditions)
            .group_by(*(col for _, col in keys))
            .order_by(*order_by)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        names = [name for name, _ in keys] + list(measures)
        return _frame(rows, names, dict.fromkeys(measures, "int64"))

    def state_totals(self, mode: str, first_day: date, last_day: date) -> pd.DataFrame:
        """Per state: count, amount and fee (paisa) over Nepal days first..last."""
        r = transaction_hourly.c
        return self._aggregate(
            [("state", r.state)],
            self._rollup_conditions(mode, first_day, last_day),
            ("count", "amount", "fee"),
            (sa.desc("count"), r.state),
        )

    def volume_series(
        self,
        mode: str,
        first_day: date,
        last_day: date,
        grain: Literal["day", "week", "month"],
        states: Sequence[str] = ("Completed",),
    ) -> pd.DataFrame:
        """Count, amount and fee per Nepal day, week (from Sunday) or month; gaps omitted.

        `period` is the day, the Sunday starting the week, or the 1st of the month, so
        the first and last week or month may hold only part of its days. Empty
        `states` means all states.
        """
        r = transaction_hourly.c
        period = {"day": r.npt_date, "week": r.npt_week, "month": r.npt_month}.get(grain)
        if period is None:
            raise ValueError("grain must be 'day', 'week' or 'month'")
        frame = self._aggregate(
            [("period", period)],
            self._rollup_conditions(mode, first_day, last_day, states),
            ("count", "amount", "fee"),
            (period,),
        )
        frame["period"] = frame["period"].astype(object)
        return frame

    def type_totals(
        self,
        mode: str,
        first_day: date,
        last_day: date,
        states: Sequence[str] = ("Completed",),
    ) -> pd.DataFrame:
        """Per payment type: count and amount (paisa); largest amount first."""
        r = transaction_hourly.c
        return self._aggregate(
            [("type", r.type)],
            self._rollup_conditions(mode, first_day, last_day, states),
            ("count", "amount"),
            (sa.desc("amount"), r.type),
        )

    def hour_weekday(
        self,
        mode: str,
        first_day: date,
        last_day: date,
        states: Sequence[str] = ("Completed",),
    ) -> pd.DataFrame:
        """Count and amount per (weekday 0=Sunday..6=Saturday, Nepal hour 0-23)."""
        r = transaction_hourly.c
        frame = self._aggregate(
            [("weekday", r.npt_weekday), ("hour", r.npt_hour)],
            self._rollup_conditions(mode, first_day, last_day, states),
            ("count", "amount"),
            (r.npt_weekday, r.npt_hour),
        )
        return frame.astype({"weekday": "int64", "hour": "int64"})

    def date_span(self, mode: str) -> tuple[date, date] | None:
        """The first and last Nepal date with any transaction, or None when empty."""
        check_mode(mode)
        r = transaction_hourly.c
        # Two subqueries, because SQLite answers a lone min() or max() from the index
        # but scans every row for the pair.
        first_q = sa.select(sa.func.min(r.npt_date)).where(r.mode == mode).scalar_subquery()
        last_q = sa.select(sa.func.max(r.npt_date)).where(r.mode == mode).scalar_subquery()
        with self._read() as conn:
            first, last = conn.execute(sa.select(first_q, last_q)).one()
        return None if first is None else (first, last)

    # -- verification audit trail ---------------------------------------------------

    def add_audit(self, rec: AuditRecord) -> int:
        """Append one audit entry; returns its id."""
        check_mode(rec.mode)
        if rec.action not in AUDIT_ACTIONS:
            raise ValueError(f"audit action must be one of {AUDIT_ACTIONS}, not {rec.action!r}")
        values = {
            "mode": rec.mode,
            "action": rec.action,
            "reference": rec.reference,
            "amount_paisa": None if rec.amount_paisa is None else int(rec.amount_paisa),
            "verdict": rec.verdict,
            "khalti_state": rec.khalti_state,
            "raw_response": None if rec.raw_response is None else dump_json(rec.raw_response),
            "operator": rec.operator,
            "at": to_utc(rec.at),
            "note": rec.note,
        }
        with self._write() as conn:
            new_id = conn.execute(sa.insert(audit_log).values(values)).inserted_primary_key[0]
        return int(new_id)

    def list_audit(
        self,
        mode: str,
        *,
        first_day: date | None = None,
        last_day: date | None = None,
        action: str | None = None,
        verdict: str | None = None,
        search: str | None = None,
        limit: int = 500,
    ) -> pd.DataFrame:
        """Audit entries, newest first; raw_response is JSON text. Days are Nepal days."""
        check_mode(mode)
        a = audit_log.c
        conditions: list[sa.ColumnElement[bool]] = [a.mode == mode]
        if first_day is not None:
            conditions.append(a.at >= day_start_utc(first_day))
        if last_day is not None:
            conditions.append(a.at < day_start_utc(last_day + timedelta(days=1)))
        if action:
            conditions.append(a.action == action)
        if verdict:
            conditions.append(a.verdict == verdict)
        needle = (search or "").strip()
        if needle:
            conditions.append(
                sa.or_(
                    a.reference.icontains(needle, autoescape=True),
                    a.operator.icontains(needle, autoescape=True),
                    a.note.icontains(needle, autoescape=True),
                )
            )
        query = (
            sa.select(*(a[name] for name in _AUDIT_COLUMNS))
            .where(*conditions)
            .order_by(a.at.desc(), a.id.desc())
            .limit(limit)
        )
        with self._read() as conn:
            rows = conn.execute(query).all()
        return _frame(rows, _AUDIT_COLUMNS, {"id": "int64", "at": "utc", "amount_paisa": "Int64"})

    def audit_entry(self, mode: str, id: int) -> dict[str, Any] | None:
        """One audit entry with raw_response decoded back to what was recorded."""
        check_mode(mode)
        a = audit_log.c
        with self._read() as conn:
            row = conn.execute(
                sa.select(*(a[name] for name in _AUDIT_COLUMNS)).where(a.mode == mode, a.id == id)
            ).first()
        if row is None:
            return None
        out = dict(row._mapping)
        out["raw_response"] = load_json(out["raw_response"])
        return out

    # -- guard for money-moving calls -----------------------------------------------

    def begin_money_action(
        self, mode: str, kind: str, reference: str, amount_paisa: int, operator: str
    ) -> int:
        """Claim the right to send one money-moving call; returns the claim's id.

        Raises DuplicateActionError when an attempt for (mode, kind, reference) is being
        sent, went through, or has an unknown result. Only a failed attempt allows a new
        one. The database's partial unique index decides races, so exactly one of any
        number of concurrent callers (threads, processes, replicas) wins.
        """
        check_mode(mode)
        if not kind or not reference:
            raise ValueError("a money action needs a kind and a reference")
        if isinstance(amount_paisa, bool) or not isinstance(amount_paisa, int):
            raise TypeError("amount_paisa must be whole paisa (int)")
        values = {
            "mode": mode,
            "kind": kind,
            "reference": reference,
            "amount_paisa": amount_paisa,
            "operator": operator,
            "outcome": "sending",
        }
        for _attempt in range(3):
            try:
                with self._write() as conn:
                    result = conn.execute(
                        sa.insert(money_actions).values({**values, "started_at": now_utc()})
                    )
                    return int(result.inserted_primary_key[0])
            except IntegrityError:
                blocking = self._blocking_money_action(mode, kind, reference)
                if blocking is not None:
                    raise DuplicateActionError(blocking) from None
                # The attempt that blocked us was marked failed meanwhile: try again.
        raise RuntimeError("could not record the money action; try again")

    def _blocking_money_action(self, mode: str, kind: str, reference: str) -> dict[str, Any] | None:
        m = money_actions.c
        with self._read() as conn:
            row = conn.execute(
                sa.select(money_actions).where(
                    m.mode == mode,
                    m.kind == kind,
                    m.reference == reference,
                    m.outcome.in_(BLOCKING_OUTCOMES),
                )
            ).first()
        return None if row is None else dict(row._mapping)

    def finish_money_action(
        self,
        action_id: int,
        outcome: Literal["succeeded", "failed", "unknown"],
        detail: str | None = None,
    ) -> None:
        """Record how a claimed call ended. "failed" frees the reference for a retry."""
        if outcome not in MONEY_OUTCOMES or outcome == "sending":
            raise ValueError("outcome must be 'succeeded', 'failed' or 'unknown'")
        m = money_actions.c
        with self._write() as conn:
            result = conn.execute(
                sa.update(money_actions)
                .where(m.id == action_id)
                .values(outcome=outcome, detail=detail, finished_at=now_utc())
            )
            if result.rowcount == 0:
                raise LookupError(f"there is no money action {action_id}")

    def money_action(self, mode: str, kind: str, reference: str) -> dict[str, Any] | None:
        """The latest attempt for (mode, kind, reference), or None."""
        check_mode(mode)
        m = money_actions.c
        with self._read() as conn:
            row = conn.execute(
                sa.select(money_actions)
                .where(m.mode == mode, m.kind == kind, m.reference == reference)
                .order_by(m.id.desc())
                .limit(1)
            ).first()
        return None if row is None else dict(row._mapping)


def _text_match(needle: str) -> sa.ColumnElement[bool]:
    """Case-insensitive substring match on idx, customer name and mobile, and ebanker."""
    # Both sides lower-cased in Python; autoescape makes a typed % or _ a plain character.
    return transactions.c.search_text.contains(needle.lower(), autoescape=True)
