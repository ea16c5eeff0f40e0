"""Time a full sync of a large sandbox and an incremental sync with nothing new.

    python benchmarks/sync_bench.py                      # 100,000 records, concurrency 4
    python benchmarks/sync_bench.py --concurrency 1 2 4 8
    python benchmarks/sync_bench.py --records 20000 --in-process

The sandbox runs in its own process (`python -m dashboard sandbox`), as Khalti would be
on another machine; --in-process shares this process and its GIL instead. Each full
sync goes into a fresh SQLite file. Targets: full < 60 s, incremental < 1 s.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dashboard.khalti import KhaltiClient  # noqa: E402
from dashboard.sandbox import SandboxServer  # noqa: E402
from dashboard.store import Store  # noqa: E402
from dashboard.sync import sync_once  # noqa: E402

FULL_TARGET_S = 60.0
INCREMENTAL_TARGET_S = 1.0


@contextmanager
def sandbox_process(records: int, page_size: int) -> Iterator[tuple[str, str]]:
    """A sandbox in a child process; yields its (url, secret key)."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dashboard",
            "sandbox",
            "--port",
            "0",
            "--records",
            str(records),
            "--page-size",
            str(page_size),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = key = None
        while url is None or key is None:
            line = process.stdout.readline()
            if not line:
                raise SystemExit("the sandbox did not start")
            if match := re.search(r"listening on (http://\S+)", line):
                url = match.group(1)
            if match := re.search(r"secret key\s+(\S+)", line):
                key = match.group(1)
        yield url, key
    finally:
        process.terminate()
        process.wait(30)


@contextmanager
def sandbox_here(records: int, page_size: int) -> Iterator[tuple[str, str]]:
    with SandboxServer(records=records, page_size=page_size) as server:
        yield server.url, server.secret_key


def bench(url: str, key: str, records: int, concurrency: int, folder: Path) -> None:
    path = folder / f"sync-c{concurrency}.sqlite"
    store = Store(f"sqlite:///{path}")
    with KhaltiClient(key, base_url=url) as client:
        started = time.perf_counter()
        full = sync_once(client, store, "test", concurrency=concurrency)
        full_s = time.perf_counter() - started
        assert full.ok, full.error
        assert store.count("test") == records, (store.count("test"), records)
        started = time.perf_counter()
        quick = sync_once(client, store, "test", concurrency=concurrency)
        quick_s = time.perf_counter() - started
        assert quick.ok and quick.inserted == 0, quick
    store.close()
    print(
        f"{concurrency:>11}  {full_s:>7.1f} s {records / full_s:>8,.0f}/s {full.pages:>6}"
        f"  {'ok' if full_s < FULL_TARGET_S else 'SLOW':<4}"
        f"  {quick_s * 1000:>8.0f} ms {quick.pages:>6}"
        f"  {'ok' if quick_s < INCREMENTAL_TARGET_S else 'SLOW'}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--page-size", type=int, default=50, help="the sandbox's page size")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4])
    parser.add_argument("--in-process", action="store_true", help="serve from this process")
    args = parser.parse_args()
    serve = sandbox_here if args.in_process else sandbox_process
    where = "in this process" if args.in_process else "in a child process"
    with (
        tempfile.TemporaryDirectory() as folder,
        serve(args.records, args.page_size) as (
            url,
            key,
        ),
    ):
        print(
            f"sandbox {where}: {args.records:,} records, {args.page_size} per page; "
            f"targets: full < {FULL_TARGET_S:.0f} s, incremental < {INCREMENTAL_TARGET_S:.0f} s"
        )
        print(f"{'concurrency':>11}  {'full sync':>9} {'rate':>10} {'pages':>6}  {'':4}", end="")
        print(f"  {'no-change':>11} {'pages':>6}")
        for concurrency in args.concurrency:
            bench(url, key, args.records, concurrency, Path(folder))


if __name__ == "__main__":
    main()
