"""Bulk checks: every good row is checked and audited once; bad rows and files are explained."""

from __future__ import annotations

import csv
import io

import pytest

from dashboard.khalti import KhaltiClient
from dashboard.sandbox import SandboxServer
from dashboard.verify import (
    MAX_BULK_ROWS,
    BulkFileError,
    Decision,
    bulk_results_csv,
    bulk_summary,
    csv_safe,
    parse_bulk_csv,
    run_bulk,
)
from tests.verify.conftest import OPERATOR, client_to

TOKEN_A = "8xmeJnNXfoVjCvGcZiiGe7"
TOKEN_B = "BVNKCiLZhZipkMGws5hgS8"
PIDX = "bZQLD9wRVWo4CdESSfuSsB"


def _read(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


# -- parsing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        f'token,amount\n{TOKEN_A},1500\n{TOKEN_B},"1,00,000.50"\n'.encode(),
        f"\ufeffToken , Amount (Rs)\r\n{TOKEN_A},1500\r\n{TOKEN_B},Rs 100000.50\r\n".encode(),
        f"idx;amount\n{TOKEN_A};1500\n\n;;\n{TOKEN_B};100000.5\n".encode(),
        f"token\tamount\n{TOKEN_A}\t1500\n{TOKEN_B}\t100000.50\n".encode(),
        f"{TOKEN_A},1500\n{TOKEN_B},100000.50\n".encode(),
        f"token,amount\n{TOKEN_A},1500\n{TOKEN_B},100000.50\n".encode("utf-16"),
    ],
    ids=["plain", "bom-crlf-spaces", "semicolon-blank-lines", "tab", "no-header", "utf-16"],
)
def test_status_files(data: bytes) -> None:
    plan = parse_bulk_csv(data)
    assert plan.kind == "status" and plan.action == "bulk_status"
    assert [(row.reference, row.amount_paisa) for row in plan.ready] == [
        (TOKEN_A, 150000),
        (TOKEN_B, 10000050),
    ]
    assert plan.problems == ()


@pytest.mark.parametrize(
    "data",
    [f"pidx\n{PIDX}\n{TOKEN_A}\n".encode(), f"{PIDX}\n{TOKEN_A}\n".encode()],
    ids=["header", "no-header"],
)
def test_lookup_files(data: bytes) -> None:
    plan = parse_bulk_csv(data)
    assert plan.kind == "lookup" and plan.action == "bulk_lookup"
    assert [row.reference for row in plan.ready] == [PIDX, TOKEN_A]
    assert all(row.amount_paisa is None for row in plan.ready)


def test_bad_rows_are_reported_per_line_and_kept_out() -> None:
    data = (
        "token,amount,order\n"
        f"{TOKEN_A},1500,A-1\n"  # line 2: good
        ",1500,A-2\n"  # 3: no token
        f"{TOKEN_B},15OO,A-3\n"  # 4: bad amount
        f"{TOKEN_B},-5,A-4\n"  # 5: negative
        "abc,1500,A-5\n"  # 6: token too short
        f"{TOKEN_B},1,500,A-6\n"  # 7: stray comma
        f"{TOKEN_A},1500.00,A-7\n"  # 8: same as line 2
        f"{TOKEN_A},1600,A-8\n"  # 9: same token, other amount: a different check
        f"{TOKEN_B},1,00,000.505\n"  # 10: stray commas again
        f'{TOKEN_B},"1,00,000.505"\n'  # 11: three decimals
    ).encode()
    plan = parse_bulk_csv(data)
    assert plan.columns == ("token", "amount", "order")
    assert [row.line for row in plan.ready] == [2, 9]
    problems = {row.line: row.problem for row in plan.problems}
    assert set(problems) == {3, 4, 5, 6, 7, 8, 10, 11}
    assert "Enter the payment token" in problems[3]
    assert "not an amount" in problems[4]
    assert "more than zero" in problems[5]
    assert "10 to 64 letters and digits" in problems[6]
    assert "stray commas" in problems[7] and "stray commas" in problems[10]
    assert problems[8] == "Same as line 2; checked there."
    assert "two decimals" in problems[11]
    assert plan.rows[0].cells == {"token": TOKEN_A, "amount": "1500", "order": "A-1"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"  \r\n\r\n ", "empty"),
        (b",,\n,,\n", "empty"),
        (b"token,amount\n", "header but no rows"),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100, "Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "Excel workbook"),
        ("token,amount\nabcdefghijk,१५००\n".encode("cp1252", errors="replace"), None),
        ("Kunde,Betrag\nMüller,1500\n".encode("latin-1"), "not plain UTF-8"),
        (b"\x00\x01\x02binary\x00", "not a CSV"),
        (b"order,customer\nA-1,Sita\n", "must name the columns"),
        (b"hello world\n", "must name the columns"),
        (f"token,pidx,amount\n{TOKEN_A},{PIDX},10\n".encode(), "both a token and a pidx"),
        (f"token\n{TOKEN_A}\n".encode(), "no amount column"),
        (b"x" * (2 * 1024 * 1024 + 1), "at most 2 MB"),
        (
            ("pidx\n" + f"{PIDX}\n" * (MAX_BULK_ROWS + 1)).encode(),
            f"{MAX_BULK_ROWS + 1:,} rows; at most 5,000",
        ),
    ],
    ids=[
        "empty",
        "blank",
        "only-commas",
        "header-only",
        "xlsx",
        "xls",
        "cp1252-ascii-ok",
        "latin-1",
        "binary",
        "unknown-header",
        "one-word",
        "token-and-pidx",
        "token-without-amount",
        "too-big",
        "too-many-rows",
    ],
)
def test_bad_files_get_a_clear_message(data: bytes, message: str | None) -> None:
    if message is None:
        # Plain ASCII is valid UTF-8 whatever Excel called it; only the row is bad.
        assert parse_bulk_csv(data).problems
        return
    with pytest.raises(BulkFileError, match=message):
        parse_bulk_csv(data)


def test_five_thousand_rows_are_allowed() -> None:
    data = "pidx\n" + "".join(f"P{n:011d}\n" for n in range(MAX_BULK_ROWS))
    assert len(parse_bulk_csv(data.encode()).ready) == MAX_BULK_ROWS


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+91", "'+91"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Sita", "Sita"),
        ("", ""),
        (None, ""),
        (150, "150"),
    ],
)
def test_csv_cells_are_formula_safe(cell: object, written: str) -> None:
    assert csv_safe(cell) == written


# -- running -------------------------------------------------------------------------


def test_bulk_status_checks_each_good_row_once(
    sandbox: SandboxServer, client: KhaltiClient, store
) -> None:
    lines = ["token,amount,order"]
    expected: dict[str, str] = {}
    for number, (state, (token, paisa)) in enumerate(sorted(sandbox.demo_tokens.items())):
        lines.append(f"{token},{paisa / 100:.2f},order-{number}")
        expected[token] = state
    first_token, first_paisa = sandbox.demo_tokens["Complete"]
    lines += [
        f"{first_token},{first_paisa / 100:.2f},again",  # duplicate
        f"{first_token},{first_paisa / 100 + 1:.2f},wrong amount",  # Error row
        '=HYPERLINK("http://x"),10,evil',  # bad token, written back defused
        f"{first_token},-5,neg",
    ]
    plan = parse_bulk_csv("\n".join(lines).encode())
    calls: list[tuple[int, int]] = []
    results = run_bulk(
        client, store, "test", plan, OPERATOR, on_progress=lambda d, t: calls.append((d, t))
    )

    good = len(expected) + 1
    assert calls[0] == (0, good) and calls[-1] == (good, good)
    assert [done for done, _ in calls] == list(range(good + 1))
    statuses = [path for _, path in sandbox.request_log if "/payment/status/" in path]
    assert len(statuses) == good
    log = store.list_audit("test")
    assert len(log) == good and set(log["action"]) == {"bulk_status"}

    assert [item.row.line for item in results] == list(range(2, len(lines) + 1))
    for item in results[: len(expected)]:
        assert item.result is not None
        assert item.result.verdict.khalti_state == expected[item.row.reference]
    wrong = results[len(expected) + 1]
    assert wrong.result is not None and wrong.result.verdict.khalti_state == "Error"
    assert results[len(expected)].result is None  # the duplicate
    summary = bulk_summary(results)
    assert summary["Deliver"] == 1 and summary["Not checked"] == 3
    assert sum(summary.values()) == len(lines) - 1

    written = _read(bulk_results_csv(plan, results))
    assert list(written[0]) == [
        "line",
        "token",
        "amount",
        "order",
        "verdict",
        "khalti_state",
        "detail",
        "checked_at",
        "error",
    ]
    complete = next(row for row in written if row["token"] == first_token)
    assert complete["verdict"] == "Deliver" and complete["khalti_state"] == "Complete"
    assert complete["checked_at"].endswith(" NPT")
    evil = next(row for row in written if row["order"] == "evil")
    assert evil["token"].startswith("'=HYPERLINK")
    assert evil["verdict"] == "Not checked" and "letters and digits" in evil["error"]
    negative = next(row for row in written if row["order"] == "neg")
    assert negative["amount"] == "'-5"


def test_bulk_lookup(sandbox: SandboxServer, client: KhaltiClient, store) -> None:
    pidxs = dict(sandbox.demo_pidx)
    data = "pidx\n" + "\n".join([*pidxs.values(), "NoSuchPidx000000000000"])
    plan = parse_bulk_csv(data.encode())
    results = run_bulk(client, store, "test", plan, OPERATOR, workers=3)
    decisions = {item.row.reference: item.result.verdict.decision for item in results}
    assert decisions[pidxs["Completed"]] is Decision.DELIVER
    assert decisions[pidxs["Pending"]] is Decision.HOLD
    assert decisions[pidxs["Expired"]] is Decision.STOP
    assert decisions["NoSuchPidx000000000000"] is Decision.STOP
    assert len(store.list_audit("test", action="bulk_lookup")) == len(pidxs) + 1
    written = _read(bulk_results_csv(plan, results))
    completed = next(row for row in written if row["pidx"] == pidxs["Completed"])
    assert completed["total_amount_rs"] and completed["transaction_id"]
    missing = written[-1]
    assert missing["khalti_state"] == "Not found" and missing["total_amount_rs"] == ""


def test_unreachable_khalti_does_not_stop_the_batch(
    sandbox: SandboxServer, store, dead_url: str
) -> None:
    token, paisa = sandbox.demo_tokens["Complete"]
    plan = parse_bulk_csv(f"token,amount\n{token},{paisa / 100}\n{TOKEN_B},10\n".encode())
    with client_to(dead_url, sandbox, max_retries=0) as offline:
        results = run_bulk(offline, store, "test", plan, OPERATOR)
    assert [item.result.verdict.decision for item in results] == [Decision.NOT_CHECKED] * 2
    written = _read(bulk_results_csv(plan, results))
    assert all("could not be reached" in row["error"] for row in written)
    assert store.list_audit("test")["verdict"].tolist() == ["Could not check"] * 2


def test_a_file_of_only_bad_rows_sends_nothing(sandbox: SandboxServer, client, store) -> None:
    plan = parse_bulk_csv(b"token,amount\nshort,10\n")
    assert run_bulk(client, store, "test", plan, OPERATOR)[0].result is None
    assert sandbox.request_log == []
    assert store.list_audit("test").empty
