"""Time exports of a 1,000,000-row store and measure their peak memory.

    python benchmarks/export_bench.py                        # CSV of all live rows
    python benchmarks/export_bench.py --formats csv json xlsx
    python benchmarks/export_bench.py --path /tmp/other.sqlite --rows 200000

Uses the synthetic store of benchmarks/store_bench.py (the same file, built there if it
does not exist yet; it is only read here). Each export runs in a fresh child process,
so its peak RSS is its own; a second pass under tracemalloc gives Python's own peak.
Target: peak memory under 300 MB for a full CSV export.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import store_bench  # noqa: E402

from dashboard.export import export_to_path  # noqa: E402
from dashboard.store import Store, TxFilter  # noqa: E402

TARGET_MB = 300.0
MODE = "live"  # store_bench puts its large data set in live mode


def child(url: str, fmt: str, trace: bool) -> None:
    """One export to a temporary file; prints its figures as JSON."""
    store = Store(url)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"export.{fmt}"
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        rows = export_to_path(store, MODE, TxFilter(), fmt, path)
        seconds = time.perf_counter() - started
        rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        size = path.stat().st_size
        traced_peak = None
        if trace:
            # tracemalloc slows Python several times over, so it gets a pass of its own.
            tracemalloc.start()
            export_to_path(store, MODE, TxFilter(), fmt, path)
            traced_peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    store.close()
    print(
        json.dumps(
            {
                "rows": rows,
                "seconds": seconds,
                "bytes": size,
                "rss_before_mb": rss_before / 1024,
                "rss_peak_mb": rss_peak / 1024,
                "traced_peak_mb": traced_peak,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--path", type=Path, default=store_bench.DEFAULT_PATH)
    parser.add_argument("--formats", nargs="+", default=["csv"], choices=("csv", "xlsx", "json"))
    parser.add_argument("--no-trace", action="store_true", help="skip the tracemalloc pass")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    url = f"sqlite:///{args.path}"
    if args.child:
        child(url, args.child, trace=not args.no_trace)
        return

    store = Store(url)
    have = store.count(MODE)
    if have == 0:
        print(f"building {args.rows:,} rows in {args.path} ...", file=sys.stderr)
        print(f"built in {store_bench.build(store, args.rows):.0f} s", file=sys.stderr)
        have = store.count(MODE)
    store.close()
    print(f"{args.path}: {have:,} {MODE} rows; target: peak memory < {TARGET_MB:.0f} MB")
    print(f"{'format':<7}{'rows':>11}{'seconds':>9}{'rows/s':>10}{'file MB':>9}", end="")
    print(f"{'peak RSS MB':>13}{'traced MB':>11}  target")
    for fmt in args.formats:
        command = [sys.executable, __file__, "--path", str(args.path), "--child", fmt]
        if args.no_trace:
            command.append("--no-trace")
        done = subprocess.run(
            command, capture_output=True, text=True, check=True, env={**os.environ}
        )
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        traced = figures["traced_peak_mb"]
        peak = max(figures["rss_peak_mb"], traced or 0)
        print(
            f"{fmt:<7}{figures['rows']:>11,}{figures['seconds']:>9.1f}"
            f"{figures['rows'] / figures['seconds']:>10,.0f}{figures['bytes'] / 2**20:>9.0f}"
            f"{figures['rss_peak_mb']:>13.0f}{'' if traced is None else f'{traced:.1f}':>11}"
            f"  {'ok' if peak < TARGET_MB else 'OVER'}",
            flush=True,
        )


if __name__ == "__main__":
    main()
