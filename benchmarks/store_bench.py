"""Time the store's query shapes on a large SQLite database.

    python benchmarks/store_bench.py             # builds once, then reuses the file
    python benchmarks/store_bench.py --rebuild   # start from an empty database
    python benchmarks/store_bench.py --url postgresql+psycopg://...  # any store URL

The fixture is synthetic: ROWS live transactions over 13 months (395 Nepal days), mostly
Completed, 5 payment types, with a daily rhythm, loaded through upsert_transactions in
large batches. Each query runs once to warm the cache, then RUNS times; the table shows
the median and the worst. A full iter_transactions pass runs in a child process so its
peak memory is not mixed with the build's.

Latest figures (2 cores shared with other work, load average ~5; median / max of 9 runs,
ms). Targets: (a)-(d) under 200 ms on SQLite.

                                           SQLite           PostgreSQL 15
  (a) state_totals, one month              5.5 / 14         22 / 25
  (b) volume_series day, 13 months         38 / 52          48 / 106
  (c) page of 50, 30 days + Completed      3.3 / 11         6.3 / 8.9
  (c) page of 50, 30 days + rare state     4.9 / 5.2        14 / 17
  (c) page of 50, no filter                4.4 / 5.3        13 / 22
  (d) transactions_summary, 30 days        11 / 25          29 / 51
      volume_series week / month           43 / 26          43 / 43
      type_totals / hour_weekday, 13 mo.   26 / 32          45 / 73
      distinct_values / date_span          0.5 / 0.3        1.0 / 1.0
      count (1,000,000 rows)               50               277
      page of 50 with a search text        210              869
  iter_transactions, all rows: SQLite 26 s, PostgreSQL 38 s; resident memory grew
  ~22 MB during the pass (tracemalloc peak 8 MB). Build: ~190 s (SQLite), ~500 s (PG).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.khalti.models import Party, Transaction  # noqa: E402
from dashboard.nptime import NPT, khalti_isoformat  # noqa: E402
from dashboard.store import Store, TxFilter  # noqa: E402

# Kept between runs; --rebuild starts over.
DEFAULT_PATH = Path(tempfile.gettempdir()) / "khalti-store-bench" / "store.sqlite"
FIRST_DAY = date(2024, 1, 1)
DAYS = 395
TARGET_MS = 200.0

STATES = (
    ("Completed", "is complete", 90),
    ("Refunded", "is refunded", 3),
    ("Failed", "is failed", 3),
    ("Initiated", "is initiated", 2),
    ("Partially refunded", "is partially refunded", 1),
    ("Confirmed", "is confirm", 1),
)
TYPES = (
    ("Wallet payment", None),
    ("Ebanking payment", "Nabil Bank"),
    ("Mobile banking", "Global IME Bank"),
    ("Connect IPS", "NCHL"),
    ("SCT/VISA card", "Himalayan Bank"),
)
NAMES = ("Ram Thapa", "Sita Gurung", "Hari Shrestha", "Gita Rai", "Bikash Tamang", "Anita KC")
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def synthetic_transactions(rows: int, seed: int = 7) -> Iterator[Transaction]:
    rng = random.Random(seed)
    state_weights = [w for _, _, w in STATES]
    # Busy afternoons and quiet nights, as at a real shop.
    hour_weights = [
        1,
        1,
        1,
        1,
        1,
        2,
        4,
        6,
        8,
        10,
        12,
        12,
        12,
        12,
        12,
        11,
        11,
        10,
        10,
        9,
        7,
        5,
        3,
        2,
    ]
    start = datetime.combine(FIRST_DAY, datetime.min.time(), tzinfo=NPT)
    for _ in range(rows):
        state, template, _w = rng.choices(STATES, state_weights)[0]
        type_name, bank = rng.choice(TYPES)
        hour = rng.choices(range(24), hour_weights)[0]
        created = start + timedelta(
            days=rng.randrange(DAYS),
            hours=hour,
            seconds=rng.randrange(3600),
            microseconds=rng.randrange(1_000_000),
        )
        idx = "".join(rng.choices(_ALPHABET, k=22))
        amount = rng.randrange(10, 5000) * 100
        fee = amount * 3 // 100
        user = Party(
            idx="".join(rng.choices(_ALPHABET, k=22)),
            name=rng.choice(NAMES),
            mobile="98" + "".join(rng.choices("0123456789", k=8)),
        )
        raw: dict[str, Any] = {
            "idx": idx,
            "type": {"idx": "e476BL6jt9kgagEmsakyTL", "name": type_name},
            "state": {"idx": "DhvMj9hdRufLqkP8ZY4d8g", "name": state, "template": template},
            "amount": amount,
            "fee_amount": fee,
            "refunded": state == "Refunded",
            "created_on": khalti_isoformat(created),
            "ebanker": bank,
            "user": {"idx": user.idx, "name": user.name, "mobile": user.mobile},
            "merchant": {"idx": "UM75Gm2gWmZvA4TPwkwZye", "name": "Bench Merchant"},
        }
        yield Transaction(
            idx=idx,
            type_name=type_name,
            state_name=state,
            amount=amount,
            fee_amount=fee,
            refunded=state == "Refunded",
            created_on=created,
            ebanker=bank,
            state_template=template,
            user=user,
            raw=raw,
        )


def build(store: Store, rows: int, batch: int = 20_000) -> float:
    started = time.perf_counter()
    seen = datetime.now(NPT)
    pending: list[Transaction] = []
    done = 0
    for tx in synthetic_transactions(rows):
        pending.append(tx)
        if len(pending) == batch:
            store.upsert_transactions("live", pending, seen)
            done += len(pending)
            pending = []
            print(f"  loaded {done:,} rows", end="\r", file=sys.stderr, flush=True)
    if pending:
        store.upsert_transactions("live", pending, seen)
    # A little test-mode data, so every query also has to skip the other mode.
    store.upsert_transactions("test", list(synthetic_transactions(5_000, seed=11)), seen)
    print(file=sys.stderr)
    return time.perf_counter() - started


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    fn()  # warm the page cache and the statement cache
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def _rss_mb() -> float:
    """Current resident memory; Linux's /proc, else the high-water mark."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(url: str, batch_size: int) -> None:
    """Runs in a fresh process: two full export passes, one timed, one traced."""
    store = Store(url)
    peak_rss = 0.0

    def one_pass() -> int:
        nonlocal peak_rss
        rows = 0
        for batch in store.iter_transactions("live", TxFilter(), batch_size=batch_size):
            rows += len(batch)
            peak_rss = max(peak_rss, _rss_mb())
        return rows

    rss_before = _rss_mb()
    started = time.perf_counter()
    rows = one_pass()
    seconds = time.perf_counter() - started
    # tracemalloc slows Python down a lot, so it gets a pass of its own.
    tracemalloc.start()
    one_pass()
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    store.close()
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": seconds,
                "traced_peak_mb": traced_peak / 2**20,
                "rss_before_mb": rss_before,
                "rss_peak_mb": peak_rss,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help="SQLite file to use")
    parser.add_argument("--url", help="store URL instead of --path (e.g. PostgreSQL)")
    parser.add_argument("--rebuild", action="store_true", help="delete and build again")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--batch-size", type=int, default=5000, help="iter_transactions batch")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{args.path}"

    if args.memory_child:
        memory_child(url, args.batch_size)
        return

    if args.rebuild and not args.url:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.path}{suffix}").unlink(missing_ok=True)
    store = Store(url)
    have = store.count("live")
    if have != args.rows:
        if have:
            sys.exit(
                f"{store.url_for_display} holds {have:,} live rows, not {args.rows:,}: "
                "use --rebuild (or another --path)"
            )
        print(f"building {args.rows:,} rows in {store.url_for_display} ...", file=sys.stderr)
        print(f"built in {build(store, args.rows):.0f} s", file=sys.stderr)
    span = store.date_span("live")
    assert span is not None
    first, last = span
    month = (date(2024, 6, 1), date(2024, 6, 30))
    days30 = (date(2024, 9, 1), date(2024, 9, 30))
    f30 = TxFilter(first_day=days30[0], last_day=days30[1])
    f30_done = TxFilter(first_day=days30[0], last_day=days30[1], states=("Completed",))
    f30_rare = TxFilter(first_day=days30[0], last_day=days30[1], states=("Partially refunded",))

    shapes: list[tuple[str, Callable[[], Any], bool]] = [
        ("(a) state_totals, one month", lambda: store.state_totals("live", *month), True),
        (
            "(b) volume_series day, 13 months",
            lambda: store.volume_series("live", first, last, "day"),
            True,
        ),
        (
            "(c) page of 50, 30 days + Completed",
            lambda: store.transactions_page("live", f30_done, limit=50),
            True,
        ),
        (
            "(c) page of 50, 30 days + rare state",
            lambda: store.transactions_page("live", f30_rare, limit=50),
            True,
        ),
        ("(c) page of 50, no filter", lambda: store.transactions_page("live", TxFilter()), True),
        (
            "(c) page 21 (offset 1000), no filter",
            lambda: store.transactions_page("live", TxFilter(), offset=1000),
            True,
        ),
        (
            "(d) transactions_summary, 30 days",
            lambda: store.transactions_summary("live", f30),
            True,
        ),
        (
            "    summary, 30 days + Completed",
            lambda: store.transactions_summary("live", f30_done),
            False,
        ),
        (
            "    volume_series week, 13 months",
            lambda: store.volume_series("live", first, last, "week"),
            False,
        ),
        (
            "    volume_series month, 13 months",
            lambda: store.volume_series("live", first, last, "month"),
            False,
        ),
        ("    type_totals, 13 months", lambda: store.type_totals("live", first, last), False),
        ("    hour_weekday, 13 months", lambda: store.hour_weekday("live", first, last), False),
        ("    state_totals, 13 months", lambda: store.state_totals("live", first, last), False),
        ("    date_span", lambda: store.date_span("live"), False),
        ("    distinct_values type", lambda: store.distinct_values("live", "type"), False),
        ("    count", lambda: store.count("live"), False),
        (
            "    page of 50, search text (index scan)",
            lambda: store.transactions_page("live", TxFilter(search="9812345")),
            False,
        ),
        (
            "    find_transactions by mobile (scan)",
            lambda: store.find_transactions("live", "9812345"),
            False,
        ),
    ]
    print(f"\n{store.url_for_display}: {store.count('live'):,} live rows, {first} .. {last}")
    print(f"{'query':<42}{'median ms':>11}{'max ms':>9}  target")
    for name, fn, targeted in shapes:
        median, worst = timed(fn, args.runs)
        verdict = ("ok" if median < TARGET_MS else "SLOW") if targeted else ""
        print(f"{name:<42}{median:>11.1f}{worst:>9.1f}  {verdict}")
    store.close()

    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--memory-child",
            "--url",
            url,
            "--batch-size",
            str(args.batch_size),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    mem = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"\niter_transactions, all {mem['rows']:,} rows (batch {args.batch_size}): "
        f"{mem['seconds']:.1f} s; RSS {mem['rss_before_mb']:.0f} MB before, peak "
        f"{mem['rss_peak_mb']:.0f} MB during (growth "
        f"{mem['rss_peak_mb'] - mem['rss_before_mb']:.1f} MB); "
        f"tracemalloc peak {mem['traced_peak_mb']:.1f} MB"
    )


if __name__ == "__main__":
    main()
