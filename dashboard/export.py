"""Exports of stored transactions as CSV, Excel (XLSX) or JSON, streamed in batches.

Rows come from `Store.iter_transactions` a batch at a time and are written straight
out, so a million-row export holds one batch in memory. Text that a spreadsheet would
run as a formula (a customer called "=HYPERLINK(...)") is neutralised with a leading
apostrophe, as OWASP recommends; amounts stay numbers, exact to the paisa.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal, TextIO

import xlsxwriter

from dashboard.money import rupees, rupees_text
from dashboard.nptime import khalti_isoformat

if TYPE_CHECKING:  # the store pulls in pandas; the CLI should start without it
    from dashboard.store import Store, TxFilter

ExportFormat = Literal["csv", "xlsx", "json"]
FORMATS: tuple[ExportFormat, ...] = ("csv", "xlsx", "json")
MIME_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}
COLUMNS = (
    "idx",
    "created_on",
    "state",
    "type",
    "amount_npr",
    "fee_npr",
    "refunded",
    "customer_name",
    "customer_mobile",
    "ebanker",
)
TEXT_COLUMNS = ("idx", "created_on", "state", "type", "customer_name", "customer_mobile", "ebanker")
# Characters with which Excel, LibreOffice and Google Sheets start a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH_SIZE = 5000
# Exports up to this size stay in memory; larger ones spill to a temporary file.
SPOOL_BYTES = 16 * 1024 * 1024
XLSX_MAX_ROWS = 1_048_576  # one sheet's limit, header included


class ExportTooLargeError(ValueError):
    """More rows than one spreadsheet sheet can hold."""


def safe_text(value: str | None) -> str:
    """Text a spreadsheet shows as text: a leading formula character gets a ' before it."""
    if not value:
        return ""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def export_row(row: dict[str, Any]) -> dict[str, Any]:
    """One stored transaction as export values: Nepal-time ISO text and exact rupees."""
    return {
        "idx": row["idx"],
        "created_on": khalti_isoformat(row["created_on"]),
        "state": row["state"],
        "type": row["type"],
        "amount_npr": rupees(row["amount"]),
        "fee_npr": rupees(row["fee_amount"]),
        "refunded": bool(row["refunded"]),
        "customer_name": row["customer_name"],
        "customer_mobile": row["customer_mobile"],
        "ebanker": row["ebanker"],
    }


def _batches(store: Store, mode: str, f: TxFilter) -> Iterator[list[dict[str, Any]]]:
    return store.iter_transactions(mode, f, batch_size=BATCH_SIZE, oldest_first=True)


@contextlib.contextmanager
def _text_stream(out: BinaryIO | TextIO, *, bom: bool) -> Iterator[TextIO]:
    """A text view of `out`; bytes are UTF-8 (with a BOM for Excel when asked)."""
    if isinstance(out, io.TextIOBase):
        yield out  # type: ignore[misc]
        return
    if bom:
        out.write(codecs.BOM_UTF8)  # type: ignore[arg-type]
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")  # type: ignore[arg-type]
    try:
        yield text
        text.flush()
    finally:
        # Leave the caller's stream open: the wrapper would close it when collected.
        text.detach()


def write_csv(store: Store, mode: str, f: TxFilter, out: BinaryIO | TextIO) -> int:
    """Write matching transactions as CSV (UTF-8 with BOM for byte streams); returns rows."""
    rows = 0
    with _text_stream(out, bom=True) as text:
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for batch in _batches(store, mode, f):
            writer.writerows(_csv_values(row) for row in batch)
            rows += len(batch)
    return rows


def _csv_values(row: dict[str, Any]) -> list[str]:
    values = export_row(row)
    return [
        safe_text(values["idx"]),
        safe_text(values["created_on"]),
        safe_text(values["state"]),
        safe_text(values["type"]),
        rupees_text(row["amount"]),
        rupees_text(row["fee_amount"]),
        "true" if values["refunded"] else "false",
        safe_text(values["customer_name"]),
        safe_text(values["customer_mobile"]),
        safe_text(values["ebanker"]),
    ]


def write_xlsx(store: Store, mode: str, f: TxFilter, out: BinaryIO) -> int:
    """Write matching transactions as one XLSX sheet, in constant memory; returns rows."""
    matching, _ = store.transactions_summary(mode, f)
    if matching >= XLSX_MAX_ROWS:
        raise ExportTooLargeError(_too_large(matching))
    workbook = xlsxwriter.Workbook(
        out,
        {
            "constant_memory": True,
            # Text must never become a formula, a number or a link by guessing.
            "strings_to_formulas": False,
            "strings_to_numbers": False,
            "strings_to_urls": False,
        },
    )
    try:
        sheet = workbook.add_worksheet("Transactions")
        bold = workbook.add_format({"bold": True})
        money = workbook.add_format({"num_format": "0.00"})
        widths = (24, 34, 18, 18, 14, 10, 10, 28, 16, 28)
        for col, width in enumerate(widths):
            sheet.set_column(col, col, width)
        sheet.freeze_panes(1, 0)
        for col, name in enumerate(COLUMNS):
            sheet.write_string(0, col, name, bold)
        rows = 0
        for batch in _batches(store, mode, f):
            if rows + len(batch) >= XLSX_MAX_ROWS:
                raise ExportTooLargeError(_too_large(rows + len(batch)))
            for row in batch:
                rows += 1
                _xlsx_row(sheet, rows, export_row(row), money)
        if rows:
            sheet.autofilter(0, 0, rows, len(COLUMNS) - 1)
    finally:
        workbook.close()
    return rows


def _too_large(rows: int) -> str:
    return (
        f"{rows:,} payments match, more than one Excel sheet can hold "
        f"({XLSX_MAX_ROWS - 1:,}). Choose a shorter date range, or export CSV."
    )


def _xlsx_row(sheet: Any, r: int, values: dict[str, Any], money: Any) -> None:
    for col, name in enumerate(COLUMNS):
        value = values[name]
        if name in ("amount_npr", "fee_npr"):
            # A Decimal is written digit for digit, so 19.99 is 19.99 in the file.
            sheet.write_number(r, col, value, money)
        elif name == "refunded":
            sheet.write_boolean(r, col, value)
        elif value is None or value == "":
            continue
        else:
            sheet.write_string(r, col, safe_text(str(value)))


def write_json(store: Store, mode: str, f: TxFilter, out: BinaryIO | TextIO) -> int:
    """Write matching transactions as one JSON array, streamed; returns rows.

    Amounts are JSON numbers written as exact two-decimal text (19.99, never 19.989999).
    """
    rows = 0
    with _text_stream(out, bom=False) as text:
        text.write("[")
        for batch in _batches(store, mode, f):
            parts = []
            for row in batch:
                parts.append(("\n" if rows == 0 else ",\n") + _json_object(row))
                rows += 1
            text.write("".join(parts))
        text.write("\n]\n" if rows else "]\n")
    return rows


def _json_object(row: dict[str, Any]) -> str:
    values = export_row(row)
    fields = []
    for name in COLUMNS:
        value = values[name]
        if isinstance(value, Decimal):
            fields.append(f'"{name}": {value:.2f}')
        else:
            fields.append(f'"{name}": {json.dumps(value, ensure_ascii=False)}')
    return "{" + ", ".join(fields) + "}"


WRITERS: dict[str, Callable[[Store, str, TxFilter, Any], int]] = {
    "csv": write_csv,
    "xlsx": write_xlsx,
    "json": write_json,
}


def check_format(fmt: str) -> ExportFormat:
    """The format name, lower-cased, or ValueError naming the ones there are."""
    name = (fmt or "").strip().lower().lstrip(".")
    if name not in FORMATS:
        raise ValueError(f"Unknown export format “{fmt}”: use csv, xlsx or json.")
    return name  # type: ignore[return-value]


def write_export(store: Store, mode: str, f: TxFilter, fmt: str, out: BinaryIO) -> int:
    """Write matching transactions to a byte stream in `fmt`; returns rows."""
    return WRITERS[check_format(fmt)](store, mode, f, out)


def export_bytes(store: Store, mode: str, f: TxFilter, fmt: str) -> bytes:
    """The whole export as bytes, built when called (spilling to disk while it is built)."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        write_export(store, mode, f, fmt, spool)  # type: ignore[arg-type]
        spool.seek(0)
        return spool.read()


def export_to_path(store: Store, mode: str, f: TxFilter, fmt: str, path: str | Path) -> int:
    """Write the export to `path` atomically: a failure leaves no half-written file."""
    target = Path(path)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            rows = write_export(store, mode, f, fmt, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp_name, 0o644)
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    return rows


def export_filename(mode: str, first_day: date | None, last_day: date | None, fmt: str) -> str:
    """khalti-test-2026-11-01_to_2026-11-30.csv (an open end reads "start" or "latest")."""
    first = first_day.isoformat() if first_day else "start"
    last = last_day.isoformat() if last_day else "latest"
    return f"khalti-{mode}-{first}_to_{last}.{check_format(fmt)}"


__all__ = [
    "COLUMNS",
    "FORMATS",
    "MIME_TYPES",
    "ExportTooLargeError",
    "check_format",
    "export_bytes",
    "export_filename",
    "export_row",
    "export_to_path",
    "safe_text",
    "write_csv",
    "write_export",
    "write_json",
    "write_xlsx",
]
