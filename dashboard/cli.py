"""The command line: `python -m dashboard sandbox | sync | export`.

Uses the same settings as the app (environment and .streamlit/secrets.toml). Exit
codes: 0 done, 1 failed (Khalti, network, database or file), 2 bad usage or
configuration, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from dashboard.config import MODES, ConfigError, Settings, load_settings
from dashboard.export import (
    FORMATS,
    ExportTooLargeError,
    check_format,
    export_filename,
    export_to_path,
)
from dashboard.sandbox import cli as sandbox_cli
from dashboard.sync import SyncProgress, sync_once

if TYPE_CHECKING:
    from dashboard.store import Store

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SANDBOX_HINT = (
    "To try the dashboard against the offline Khalti sandbox:\n"
    "  1. in another terminal run:  python -m dashboard sandbox\n"
    "  2. then set  KHALTI_TEST_SECRET_KEY=<the secret key it prints>\n"
    "     and       KHALTI_TEST_BASE_URL=http://127.0.0.1:8765\n"
    "  3. and run:  python -m dashboard sync"
)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def nepal_date(text: str) -> date:
    """An argparse type: YYYY-MM-DD as a Nepal calendar date."""
    value = text.strip()
    if not _ISO_DATE.match(value):
        raise argparse.ArgumentTypeError(f"“{text}” is not a date; write it as YYYY-MM-DD.")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value} is not a real calendar date.") from None


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}” is not a whole number.") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `python -m dashboard`."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard",
        description="Khalti merchant dashboard: sandbox, sync and export from the command line.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each request")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    sandbox_cli.add_parser(commands)

    sync = commands.add_parser(
        "sync",
        help="copy new and changed payments from Khalti into the local database",
        description=(
            "Copy Khalti's payment list into the local database: every page the first "
            "time (resumable), afterwards only new payments and the recent days."
        ),
    )
    sync.add_argument("--mode", choices=MODES, default="test", help="default: test")
    sync.add_argument("--full", action="store_true", help="read every page again")
    sync.add_argument(
        "--concurrency", type=_positive, default=4, help="pages read at once (default 4)"
    )
    sync.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )

    export = commands.add_parser(
        "export",
        help="write stored payments to a CSV, Excel or JSON file",
        description="Write stored payments to a file. Dates are Nepal dates, both inclusive.",
    )
    export.set_defaults(command_parser=export)
    export.add_argument("--mode", choices=MODES, default="test", help="default: test")
    export.add_argument(
        "--from", dest="first_day", type=nepal_date, metavar="YYYY-MM-DD", help="first day"
    )
    export.add_argument(
        "--to", dest="last_day", type=nepal_date, metavar="YYYY-MM-DD", help="last day"
    )
    export.add_argument(
        "--state",
        dest="states",
        action="extend",
        nargs="+",
        default=[],
        metavar="STATE",
        help='only these states, e.g. Completed "Partially refunded"',
    )
    export.add_argument(
        "--type",
        dest="types",
        action="extend",
        nargs="+",
        default=[],
        metavar="TYPE",
        help='only these payment types, e.g. "Wallet payment"',
    )
    export.add_argument("--search", help="only payments whose idx, customer or bank contains this")
    export.add_argument(
        "--format", dest="fmt", choices=FORMATS, help="default: from --out, else csv"
    )
    export.add_argument(
        "--out", type=Path, help="file to write (default: khalti-MODE-FROM_to_TO.FORMAT here)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    first, last = getattr(args, "first_day", None), getattr(args, "last_day", None)
    if first and last and last < first:
        args.command_parser.error(f"--to {last} is before --from {first}.")
    try:
        if args.command == "sandbox":
            return sandbox_cli.run(args)
        if args.command == "sync":
            return run_sync(args)
        return run_export(args)
    except KeyboardInterrupt:
        _say("Interrupted. Anything already saved is kept; run the command again to continue.")
        return EXIT_INTERRUPTED


def _settings() -> Settings:
    settings = load_settings()
    for problem in settings.problems:
        _say(f"Warning: {problem}")
    return settings


def _open_store(settings: Settings) -> Store | None:
    from dashboard.store import Store  # pandas and SQLAlchemy: only for commands that need them

    try:
        return Store(settings.db_url)
    except Exception as exc:
        # The URL may hold a password; say only which kind of database failed, and why.
        backend = settings.db_url.split(":", 1)[0]
        _say(f"Could not open the {backend} database (KHALTI_DASHBOARD_DB): {_first_line(exc)}")
        return None


def run_sync(args: argparse.Namespace) -> int:
    """`sync`: one sync of one mode, with a progress bar and a one-line summary."""
    settings = _settings()
    try:
        config = settings.require(args.mode)
    except ConfigError as exc:
        _say(f"Cannot sync {args.mode} mode: {exc}")
        if settings.demo:
            _say(SANDBOX_HINT)
        return EXIT_USAGE
    store = _open_store(settings)
    if store is None:
        return EXIT_FAILED
    bar = tqdm(
        total=0,
        unit="page",
        desc=f"Sync {args.mode}",
        file=sys.stderr,
        disable=None if args.progress is None else not args.progress,
        dynamic_ncols=True,
    )

    def progress(step: SyncProgress) -> None:
        if bar.total != step.pages_total:
            bar.total = step.pages_total
        bar.update(step.pages_done - bar.n)
        bar.set_postfix(records=f"{step.records:,}", refresh=False)

    try:
        with config.client() as client:
            result = sync_once(
                client,
                store,
                args.mode,
                full=args.full,
                recent_days=settings.sync_recent_days,
                concurrency=args.concurrency,
                progress=progress,
            )
    except Exception as exc:
        # Khalti's problems come back in the result; this is the database or a bug.
        bar.close()
        logging.getLogger(__name__).debug("sync failed", exc_info=True)
        _say(f"Sync of {args.mode} mode stopped unexpectedly: {_first_line(exc)}")
        return EXIT_FAILED
    finally:
        bar.close()
        store.close()
    if not result.ok:
        _say(f"{args.mode}: {result.summary()}")
        return EXIT_FAILED
    print(f"{args.mode}: {result.summary()}", flush=True)
    if result.server_total is not None:
        print(f"{args.mode}: Khalti lists {result.server_total:,} payments.", flush=True)
    return EXIT_OK


def run_export(args: argparse.Namespace) -> int:
    """`export`: write the matching stored payments to a file, atomically."""
    fmt = args.fmt
    if fmt is None:
        suffix = args.out.suffix if args.out else ""
        try:
            fmt = check_format(suffix) if suffix else "csv"
        except ValueError:
            _say(f"Cannot tell the format from “{args.out.name}”; add --format csv|xlsx|json.")
            return EXIT_USAGE
    out: Path = args.out or Path(export_filename(args.mode, args.first_day, args.last_day, fmt))
    if out.is_dir():
        out = out / export_filename(args.mode, args.first_day, args.last_day, fmt)
    if not out.parent.is_dir():
        _say(f"The folder {out.parent} does not exist.")
        return EXIT_FAILED
    from dashboard.store import TxFilter

    try:
        tx_filter = TxFilter(
            first_day=args.first_day,
            last_day=args.last_day,
            states=tuple(args.states),
            types=tuple(args.types),
            search=args.search,
        )
    except (TypeError, ValueError) as exc:
        _say(f"Cannot export: {exc}")
        return EXIT_USAGE
    settings = _settings()
    store = _open_store(settings)
    if store is None:
        return EXIT_FAILED
    try:
        if store.count(args.mode) == 0:
            _say(
                f"There are no {args.mode} payments in the database yet; "
                f"run  python -m dashboard sync --mode {args.mode}  first."
            )
        for column, wanted in (("state", args.states), ("type", args.types)):
            known = store.distinct_values(args.mode, column)
            unknown = [name for name in wanted if name not in known]
            if unknown and known:
                _say(
                    f"Warning: no {args.mode} payment has {column} "
                    f"{', '.join(repr(n) for n in unknown)}; known: {', '.join(known)}."
                )
        rows = export_to_path(store, args.mode, tx_filter, fmt, out)
    except ExportTooLargeError as exc:
        _say(str(exc))
        return EXIT_FAILED
    except OSError as exc:
        _say(f"Could not write {out}: {exc.strerror or exc}")
        return EXIT_FAILED
    finally:
        store.close()
    span = _span_text(args.first_day, args.last_day)
    print(f"Wrote {rows:,} {args.mode} payments{span} to {out}", flush=True)
    return EXIT_OK


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _span_text(first: date | None, last: date | None) -> str:
    if first and last:
        return f" (Nepal dates {first} to {last})"
    if first:
        return f" (Nepal dates from {first})"
    if last:
        return f" (Nepal dates up to {last})"
    return ""
