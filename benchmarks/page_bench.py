"""Time each page's script run against a 1,000,000-payment store.

    python benchmarks/page_bench.py            # reuses store_bench.py's database
    python benchmarks/page_bench.py --runs 9

The database is the one benchmarks/store_bench.py builds (1,000,000 live payments over
13 months, plus a little test data); it is built first if missing. Each scenario opens
the page once through AppTest (imports, first connection), then times RUNS more script
runs of the whole app (sidebar, mode switch, page) and prints the median and the worst.
Nothing is written to the database and no request goes to Khalti.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from store_bench import DEFAULT_PATH, build  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402

from dashboard.store import Store  # noqa: E402

TARGET_S = 1.5
ROWS = 1_000_000
# Never contacted: the pages only read the store unless someone opens a payment's detail.
UNUSED_KHALTI = "http://127.0.0.1:9"


@dataclass(frozen=True)
class Scenario:
    name: str
    page: str
    prepare: Callable[[AppTest], None]


def custom_range(prefix: str, first: date, last: date) -> Callable[[AppTest], None]:
    def prepare(at: AppTest) -> None:
        at.selectbox(key=f"{prefix}_preset").set_value("Custom").run()
        at.date_input(key=f"{prefix}_from").set_value(first)
        at.date_input(key=f"{prefix}_to").set_value(last).run()

    return prepare


def then(*steps: Callable[[AppTest], Any]) -> Callable[[AppTest], None]:
    def prepare(at: AppTest) -> None:
        for step in steps:
            step(at)

    return prepare


def scenarios(first: date, last: date) -> list[Scenario]:
    month = (last - timedelta(days=29), last)
    return [
        Scenario("Overview, last 30 days", "overview", custom_range("ov", *month)),
        Scenario("Overview, all 13 months", "overview", custom_range("ov", first, last)),
        Scenario(
            "Overview, 13 months by week",
            "overview",
            then(
                custom_range("ov", first, last),
                lambda at: at.segmented_control(key="ov_grain").set_value("week").run(),
            ),
        ),
        Scenario("Transactions, last 30 days", "transactions", custom_range("tx", *month)),
        Scenario(
            "Transactions, 13 months (1M rows)", "transactions", custom_range("tx", first, last)
        ),
        Scenario(
            "Transactions, 13 months, page 200",
            "transactions",
            then(
                custom_range("tx", first, last),
                lambda at: at.pagination[0].set_value(200).run(),
            ),
        ),
        Scenario(
            "Transactions, 30 days + state + amount",
            "transactions",
            then(
                custom_range("tx", *month),
                lambda at: at.multiselect(key="tx_states_live").set_value(["Refunded"]).run(),
                lambda at: at.text_input(key="tx_min").set_value("500").run(),
            ),
        ),
        Scenario(
            "Transactions, 30 days + search",
            "transactions",
            then(
                custom_range("tx", *month),
                lambda at: at.text_input(key="tx_search").set_value("Gurung").run(),
            ),
        ),
        Scenario("Settings", "settings", lambda at: None),
    ]


def configure(db_path: Path, folder: Path) -> None:
    for name in [n for n in os.environ if n.startswith("KHALTI_")]:
        del os.environ[name]
    os.environ.update(
        KHALTI_SECRETS_FILE=str(folder / "no-secrets.toml"),
        KHALTI_DASHBOARD_DB=f"sqlite:///{db_path}",
        KHALTI_SYNC_INTERVAL_MINUTES="0",
        KHALTI_TEST_SECRET_KEY="test_secret_key_" + "1" * 32,
        KHALTI_TEST_BASE_URL=UNUSED_KHALTI,
        KHALTI_LIVE_SECRET_KEY="live_secret_key_" + "2" * 32,
        KHALTI_LIVE_BASE_URL=UNUSED_KHALTI,
    )


def time_scenario(scenario: Scenario, runs: int) -> tuple[float, float]:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page(f"pages/{scenario.page}.py").run()
    at.segmented_control(key="mode").set_value("live").run()
    scenario.prepare(at)
    if at.exception:
        raise RuntimeError(f"{scenario.name}: {at.exception[0].value}")
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        at.run()
        samples.append(time.perf_counter() - started)
    if at.exception:
        raise RuntimeError(f"{scenario.name}: {at.exception[0].value}")
    return statistics.median(samples), max(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH, help="store_bench database")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    with Store(f"sqlite:///{args.path}") as store:
        have = store.count("live")
        if have == 0:
            print(f"building {ROWS:,} payments in {args.path} ...", file=sys.stderr)
            build(store, ROWS)
            have = store.count("live")
        span = store.date_span("live")
    assert span is not None
    first, last = span
    configure(args.path, Path(tempfile.mkdtemp(prefix="page-bench-")))

    print(
        f"{have:,} live payments, {first} .. {last}; {args.runs} runs each, {os.cpu_count()} CPUs"
    )
    print(f"{'page run':<42}{'median s':>10}{'max s':>8}  target {TARGET_S} s")
    for scenario in scenarios(first, last):
        median, worst = time_scenario(scenario, args.runs)
        verdict = "ok" if median < TARGET_S else "SLOW"
        print(f"{scenario.name:<42}{median:>10.2f}{worst:>8.2f}  {verdict}", flush=True)


if __name__ == "__main__":
    main()
