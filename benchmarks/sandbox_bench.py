"""Time the sandbox's list pages and a client walk over every page.

    python benchmarks/sandbox_bench.py                    # 100,000 records
    python benchmarks/sandbox_bench.py --records 1000000

The sandbox runs as `python -m dashboard sandbox` in its own process. Each of the first,
a middle and the last page is fetched several times through KhaltiClient; the median
is reported (target: well under a second). Then iter_transactions walks every page and
must yield exactly total_records payments.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from sync_bench import sandbox_process  # noqa: E402

from dashboard.khalti import KhaltiClient  # noqa: E402


def median_ms(client: KhaltiClient, page: int, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.list_transactions(page)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    with sandbox_process(args.records, 50) as (url, key), KhaltiClient(key, base_url=url) as client:
        total_pages = client.list_transactions(1).total_pages
        print(f"sandbox: {args.records:,} records, {total_pages:,} pages of 50")
        for name, page in (("first", 1), ("middle", total_pages // 2), ("last", total_pages)):
            print(f"  {name:<6} page {page:>6}: {median_ms(client, page, args.runs):7.1f} ms")
        started = time.perf_counter()
        walked = sum(1 for _ in client.iter_transactions())
        elapsed = time.perf_counter() - started
        assert walked == args.records, (walked, args.records)
        print(f"  iter_transactions: {walked:,} payments in {elapsed:.1f} s (one page at a time)")


if __name__ == "__main__":
    main()
