"""The sync engine: copies Khalti's transaction list into the store, fully once, then a little.

Khalti's list is one newest-first paginated list with no filters, and new payments
arrive at its head, pushing every older record towards later pages while we read.
So a record's position counted from the *oldest* end never changes, and this engine
tracks what it has read as intervals of those positions ("coverage"): a page answered
with `total_records` T, starting at newest-first offset o with n records, holds the
positions [T - o - n, T - o). Pages can then be read concurrently, in any order, across
interrupted runs, and the engine re-reads exactly the positions a shift left unread.

A DRF server counts the records before it slices the page, so a payment arriving in
between shifts the page without showing in its count. A page's interval is therefore
only trusted once a later answer proves the count did not move (see `_Page`), and is
otherwise narrowed to the positions it held whatever the shift was.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

from dashboard.config import ModeConfig, Settings
from dashboard.khalti import KhaltiClient, KhaltiError, Transaction, TransactionPage
from dashboard.khalti.errors import AuthenticationError, NotFoundError
from dashboard.nptime import now_utc, to_utc

if TYPE_CHECKING:  # the store pulls in pandas; the CLI should start without it
    from dashboard.store import Store

log = logging.getLogger(__name__)

SyncKind = Literal["backfill", "incremental"]
ProgressCallback = Callable[["SyncProgress"], None]

# Rounds of re-reading shifted positions before giving up on a list that never holds still.
MAX_ROUNDS = 40
# Pages asked for ahead of the batch being stored. Writing is the slow part, so while it
# runs, answers pile up and the next upsert takes them all: big batches write fastest.
QUEUE_PAGES = 40
# The recent window is read ahead only once the pages read span this long, because a
# single busy hour says little about how many payments a week holds.
LOOKAHEAD_AFTER = timedelta(days=1)
# requests' connection pool holds 10 connections per host; more workers would only churn.
MAX_CONCURRENCY = 10
STATE_VERSION = 1


@dataclass(frozen=True)
class SyncProgress:
    """How far a running sync is; `pages_total` grows when the list shifts under it."""

    pages_done: int
    pages_total: int
    records: int
    elapsed_s: float

    @property
    def fraction(self) -> float:
        """0..1, for a progress bar."""
        if self.pages_total <= 0:
            return 0.0
        return min(1.0, self.pages_done / self.pages_total)


@dataclass(frozen=True)
class SyncResult:
    """What one sync did; `error` is a sentence for the person at the counter, or None."""

    ok: bool
    kind: SyncKind
    pages: int
    records: int
    inserted: int
    changed: int
    elapsed_s: float
    error: str | None = None
    complete: bool = False  # the first full read has finished (now or in an earlier run)
    server_total: int | None = None
    busy: bool = False  # not run, because another sync of this mode was running

    def summary(self) -> str:
        """One line for a status bar or a terminal."""
        if self.busy:
            return self.error or "A sync is already running."
        what = "Full sync" if self.kind == "backfill" else "Sync"
        counts = (
            f"{self.pages:,} pages, {self.records:,} records read, "
            f"{self.inserted:,} new, {self.changed:,} changed, in {self.elapsed_s:.1f} s"
        )
        if self.ok:
            return f"{what} done: {counts}."
        return f"{what} failed after {counts}. {self.error}"


@dataclass(frozen=True)
class Freshness:
    """When a mode last synced successfully, and that as words."""

    last_success_at: datetime | None
    text: str
    last_attempt_at: datetime | None = None
    last_error: str | None = None


# -- coverage: merged half-open intervals of oldest-first positions -----------------------


def _merge(intervals: Iterable[Sequence[int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted((int(a), int(b)) for a, b in intervals if int(b) > int(a)):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _gaps(covered: Sequence[tuple[int, int]], total: int) -> list[tuple[int, int]]:
    """The parts of [0, total) that `covered` (merged) leaves out."""
    gaps, cursor = [], 0
    for start, end in covered:
        if start > cursor:
            gaps.append((cursor, min(start, total)))
        cursor = max(cursor, end)
        if cursor >= total:
            break
    if cursor < total:
        gaps.append((cursor, total))
    return [(a, b) for a, b in gaps if b > a]


# -- one page as read -----------------------------------------------------------------------


@dataclass
class _Page:
    """One list answer, and what it proves about positions once later answers are known."""

    number: int
    total: int
    offset: int
    count: int
    sent: float
    received: float
    oldest: datetime | None
    newest: datetime | None
    fresh: bool = True  # had new or changed records (per stored batch, so an over-estimate)
    bound: int | None = None  # total of an answer asked for after this one arrived

    def exact(self) -> tuple[int, int]:
        """Its positions if nothing arrived between Khalti counting and slicing."""
        return max(0, self.total - self.offset - self.count), self.total - self.offset

    def proven(self) -> tuple[int, int] | None:
        """Positions certainly on this page, or None until a later answer bounds the shift."""
        if self.bound is None:
            return None
        # The slice saw between `total` and `bound` records; keep what all of those share.
        return self.bound - self.offset - self.count, self.total - self.offset


class ListShrankError(Exception):
    """Khalti's list got shorter: recorded positions no longer mean anything."""


class _PageError(Exception):
    def __init__(self, number: int, error: KhaltiError) -> None:
        super().__init__(error.message)
        self.number = number
        self.error = error


Answer = tuple[int, TransactionPage, float, float]


class _Run:
    """The state of one sync_once call."""

    def __init__(
        self,
        client: KhaltiClient,
        store: Store,
        mode: str,
        *,
        full: bool,
        recent_days: int,
        concurrency: int,
        progress: ProgressCallback | None,
        now: datetime | None,
    ) -> None:
        self.client = client
        self.store = store
        self.mode = mode
        self.concurrency = max(1, min(int(concurrency), MAX_CONCURRENCY))
        self.progress = progress
        self.fixed_now = to_utc(now) if now is not None else None
        self.started = time.monotonic()
        self.state = dict(store.get_sync_state(mode))
        saved = _merge(self.state.get("covered") or [])
        self.complete_before = bool(self.state.get("backfill_complete"))
        self.kind: SyncKind = "incremental" if self.complete_before and not full else "backfill"
        # Coverage kept in the store stays true during a full re-read, which plans from nothing.
        self.saved = saved
        self.plan_from: list[tuple[int, int]] = [] if full else list(saved)
        self.recent_cutoff = self.now() - timedelta(days=max(0, recent_days))
        self.proven: list[tuple[int, int]] = []
        self.unproven: list[_Page] = []
        self.by_number: dict[int, _Page] = {}
        self.page_size: int | None = None
        self.total = 0
        self.expected = 0
        self.planned = 0
        self.done = 0
        self.records = 0
        self.inserted = 0
        self.changed = 0
        self.pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"sync-{mode}")

    def now(self) -> datetime:
        return self.fixed_now or now_utc()

    def close(self) -> None:
        # Pages still in flight after an interruption are dropped, not waited for.
        self.pool.shutdown(wait=False, cancel_futures=True)

    # -- reading pages ------------------------------------------------------------------

    def _fetch(self, number: int) -> Answer:
        sent = time.monotonic()
        try:
            page = self.client.list_transactions(number)
        except KhaltiError as exc:
            raise _PageError(number, exc) from exc
        return number, page, sent, time.monotonic()

    def read(self, numbers: Sequence[int]) -> None:
        """Read these pages, several at once, storing each batch as it arrives."""
        queue = list(reversed(dict.fromkeys(numbers)))
        self.planned += len(queue)
        failure: _PageError | None = None
        limit = max(QUEUE_PAGES, 2 * self.concurrency)
        in_flight: set[Future[Answer]] = set()
        try:
            while queue or in_flight:
                while queue and failure is None and len(in_flight) < limit:
                    in_flight.add(self.pool.submit(self._fetch, queue.pop()))
                if not in_flight:
                    break
                done, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                answers = []
                for future in done:
                    try:
                        answers.append(future.result())
                    except _PageError as exc:
                        # Pages already in flight are still stored; nothing new is asked.
                        failure = failure or exc
                if answers:
                    self._store(answers)
        finally:
            for future in in_flight:
                future.cancel()
        if failure is not None:
            raise failure

    def _store(self, answers: list[Answer]) -> None:
        txs: list[Transaction] = []
        new = []
        for number, page, sent, received in answers:
            new.append(self._page(number, page, sent, received))
            txs.extend(page.records)
        counts = self.store.upsert_transactions(self.mode, txs, self.now())
        fresh = counts.inserted > 0 or counts.changed > 0
        for item in new:
            item.fresh = fresh
            self.by_number[item.number] = item
        self.done += len(answers)
        self.records += len(txs)
        self.inserted += counts.inserted
        self.changed += counts.changed
        self._resolve(new)
        self.save()
        if self.progress is not None:
            total = max(self.planned, self.done, self.expected)
            self.progress(
                SyncProgress(self.done, total, self.records, time.monotonic() - self.started)
            )

    def _page(self, number: int, page: TransactionPage, sent: float, received: float) -> _Page:
        count, total = len(page.records), page.total_records
        if count and number < page.total_pages:
            if self.page_size is None:
                self.page_size = count
            elif count != self.page_size:
                raise _PageError(
                    number,
                    KhaltiError("Khalti changed how many payments it lists per page mid-sync."),
                )
        if number == 1:
            offset = 0
        elif self.page_size is not None:
            offset = (number - 1) * self.page_size
        elif page.record_range and page.record_range[0] > 0:
            offset = page.record_range[0] - 1
        else:
            offset = max(0, total - count)
        if number == 1 and not self.plan_from and not self.expected:
            self.expected = page.total_pages + 1  # every page, and one to prove the last
        times = [tx.created_on for tx in page.records]
        self.total = max(self.total, total)
        return _Page(
            number,
            total,
            offset,
            count,
            sent,
            received,
            min(times, default=None),
            max(times, default=None),
        )

    # -- what the answers prove ---------------------------------------------------------

    def _resolve(self, new: list[_Page]) -> None:
        """Bound each unproven page by the count of an answer asked for after it arrived."""
        waiting = []
        for item in [*self.unproven, *new]:
            later = [p.total for p in new if p.sent > item.received]
            if not later:
                waiting.append(item)
                continue
            item.bound = min(later)
            if item.bound < item.total:
                raise ListShrankError
            start, end = item.proven() or (0, 0)
            if end > start:
                self.proven = _merge([*self.proven, (start, end)])
        self.unproven = waiting

    def covered(self, *, optimistic: bool = False) -> list[tuple[int, int]]:
        spans = [*self.plan_from, *self.proven]
        if optimistic:
            spans.extend(item.exact() for item in self.unproven)
        return _merge(spans)

    def save(self) -> None:
        self.state.update(
            version=STATE_VERSION,
            covered=[list(span) for span in _merge([*self.saved, *self.proven])],
            total_records=self.total,
            page_size=self.page_size,
        )
        self.store.save_sync_state(self.mode, self.state)

    def forget_positions(self) -> None:
        """Drop every recorded position, so the next run reads all pages again."""
        self.saved, self.plan_from, self.proven, self.unproven = [], [], [], []
        self.state.update(covered=[], backfill_complete=False)

    # -- planning -----------------------------------------------------------------------

    def pages_for(self, gaps: Sequence[tuple[int, int]]) -> list[int]:
        """Page numbers that hold these positions in a list of `self.total` records."""
        if self.page_size is None:
            return [1]
        numbers: set[int] = set()
        for start, end in gaps:
            first = (self.total - end) // self.page_size + 1
            last = (self.total - start - 1) // self.page_size + 1
            numbers.update(range(max(1, first), last + 1))
        return sorted(numbers)

    def fill(self, *, probe: bool) -> bool:
        """Read until every position up to the newest count is proven stored.

        Without `probe`, stops once the only unproven positions are on pages already read.
        Returns False if the list kept moving for MAX_ROUNDS rounds.
        """
        for _ in range(MAX_ROUNDS):
            if not _gaps(self.covered(), self.total):
                return True
            gaps = _gaps(self.covered(optimistic=True), self.total)
            if gaps:
                self.read(self.pages_for(gaps))
            elif probe:
                # The gaps are on pages read last; one more answer shows if they shifted.
                self.read([1])
            else:
                return True
        return not _gaps(self.covered(), self.total)

    def _lookahead(self, number: int) -> int:
        """Pages to read at once from `number`: half of what the window still seems to need.

        Pages 1..number-1 are stored; their time span gives the payment rate, from which
        the rest of the window is estimated. Halving keeps the guess inside the window.
        """
        first, previous = self.by_number.get(1), self.by_number.get(number - 1)
        if first is None or previous is None or first.newest is None or previous.oldest is None:
            return 1
        span = first.newest - previous.oldest
        if span < LOOKAHEAD_AFTER:
            return 1
        window_pages = (number - 1) * ((first.newest - self.recent_cutoff) / span)
        ahead = int((window_pages - (number - 1)) / 2)
        pages_left = -(-self.total // self.page_size) - number + 1 if self.page_size else 1
        return max(1, min(ahead, QUEUE_PAGES, pages_left))

    def recent(self) -> None:
        """Re-read from page 1 until a page is older than the window and had nothing new."""
        number = 1
        while True:
            item = self.by_number.get(number)
            if item is None:
                self.read(range(number, number + self._lookahead(number)))
                item = self.by_number[number]
            last = self.page_size is None or number * self.page_size >= self.total
            old = item.oldest is None or item.oldest < self.recent_cutoff
            if last or (old and not item.fresh):
                return
            number += 1


def sync_once(
    client: KhaltiClient,
    store: Store,
    mode: str,
    *,
    full: bool = False,
    recent_days: int = 7,
    concurrency: int = 4,
    progress: ProgressCallback | None = None,
    now: datetime | None = None,
) -> SyncResult:
    """Bring the store up to date with Khalti's list for one mode.

    The first run (or `full`) reads every page; later runs read the new payments and
    the last `recent_days` (old payments get refunded or confirmed). Khalti errors end
    the run with ok=False and a readable `error`; what was read before stays stored, and
    the next run continues from there. KeyboardInterrupt (also from `progress`)
    propagates, with the progress so far saved.
    """
    if mode == "live" and client.key_mode == "test":
        raise ValueError("a test_ key cannot sync live mode")
    run = _Run(
        client,
        store,
        mode,
        full=full,
        recent_days=recent_days,
        concurrency=concurrency,
        progress=progress,
        now=now,
    )
    error: str | None = None
    try:
        if not _run(run):
            error = (
                "Khalti's payment list kept changing faster than it could be read. "
                "What was read is saved; the next sync continues."
            )
    except _PageError as exc:
        error = _page_error_text(run, exc)
    except ListShrankError:
        run.forget_positions()
        error = (
            "Khalti's payment list got shorter during the sync, so the next sync reads "
            "every page again."
        )
    except BaseException:
        _finish(run, error="The sync was stopped before it finished.")
        raise
    finally:
        run.close()
    result = _finish(run, error=error)
    log.log(logging.INFO if result.ok else logging.WARNING, "%s: %s", mode, result.summary())
    return result


def _run(run: _Run) -> bool:
    """Read what is missing; True when every listed position is proven stored."""
    run.read([1])
    if run.plan_from and run.total < run.plan_from[-1][1]:
        log.warning("%s: Khalti lists fewer payments than before; reading all", run.mode)
        run.forget_positions()
        run.kind = "backfill"
    if not run.fill(probe=False):
        return False
    run.recent()
    if not run.fill(probe=True):
        return False
    stored = run.store.count(run.mode)
    if stored < run.total:
        # Every position was proven read, yet payments are missing: the list did not
        # only grow at its head. Start over rather than trust the positions.
        log.warning("%s: %d stored but Khalti lists %d", run.mode, stored, run.total)
        run.forget_positions()
        raise _PageError(
            1,
            KhaltiError(
                f"Khalti lists {run.total:,} payments but only {stored:,} were found on its "
                "pages; the next sync reads every page again."
            ),
        )
    return True


def _page_error_text(run: _Run, exc: _PageError) -> str:
    if isinstance(exc.error, AuthenticationError):
        return exc.error.message
    if isinstance(exc.error, NotFoundError):
        reason = "Khalti says that page does not exist (its list may have just changed)."
    else:
        reason = exc.error.message
    saved = ""
    if run.done:
        saved = f" {run.done:,} pages were saved; the next sync continues from there."
    return f"Could not read page {exc.number} of Khalti's payment list. {reason}{saved}"


def _finish(run: _Run, *, error: str | None) -> SyncResult:
    """Record the outcome in the store's sync state and build the result."""
    ok = error is None
    at = run.now().isoformat()
    elapsed = time.monotonic() - run.started
    state = run.state
    if ok:
        state["last_synced_at"] = at
        if not state.get("backfill_complete"):
            state["backfill_completed_at"] = at
        state["backfill_complete"] = True
    state["last_attempt_at"] = at
    state["last_error"] = error
    state["last_result"] = {
        "ok": ok,
        "kind": run.kind,
        "pages": run.done,
        "records": run.records,
        "inserted": run.inserted,
        "changed": run.changed,
        "elapsed_s": round(elapsed, 3),
        "error": error,
    }
    try:
        run.save()
    except Exception:
        # The sync's own outcome matters more than its record; the next run re-reads.
        log.exception("%s: could not save the sync state", run.mode)
    return SyncResult(
        ok=ok,
        kind=run.kind,
        pages=run.done,
        records=run.records,
        inserted=run.inserted,
        changed=run.changed,
        elapsed_s=elapsed,
        error=error,
        complete=bool(state.get("backfill_complete")),
        server_total=run.total if run.done else None,
    )


# -- freshness --------------------------------------------------------------------------


def _parse_at(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def ago_text(moment: datetime, now: datetime) -> str:
    """ "just now", "4 min ago", "3 h ago", "2 days ago"."""
    seconds = (to_utc(now) - to_utc(moment)).total_seconds()
    if seconds < 60:
        return "just now"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min ago"
    hours = minutes // 60
    if hours < 24:
        return f"{hours} h ago"
    days = hours // 24
    return "1 day ago" if days == 1 else f"{days} days ago"


def freshness(store: Store, mode: str, now: datetime | None = None) -> Freshness:
    """How fresh the stored data of a mode is, read from the store (so any process sees it)."""
    state = store.get_sync_state(mode)
    now = now or now_utc()
    last = _parse_at(state.get("last_synced_at"))
    attempt = _parse_at(state.get("last_attempt_at"))
    error = state.get("last_error") or None
    text = "never synced" if last is None else f"synced {ago_text(last, now)}"
    return Freshness(last, text, attempt, error)


# -- the background scheduler -------------------------------------------------------------


_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def mode_lock(db_url: str, mode: str) -> threading.Lock:
    """The process-wide lock that keeps two syncs of one mode and database apart."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((db_url, mode), threading.Lock())


@dataclass(frozen=True)
class SyncStatus:
    """What the UI shows about one mode's syncing."""

    mode: str
    running: bool
    last_success_at: datetime | None
    last_error: str | None
    last_result: SyncResult | None = None
    progress: SyncProgress | None = None
    next_run_at: datetime | None = None


@dataclass
class _ModeRecord:
    """What only this process knows about a mode; the rest is in the store's sync state."""

    running: bool = False
    progress: SyncProgress | None = None
    last_result: SyncResult | None = None
    crashed: str | None = None  # an error the sync could not record in the store itself


def _busy(mode: str) -> SyncResult:
    return SyncResult(
        ok=False,
        kind="incremental",
        pages=0,
        records=0,
        inserted=0,
        changed=0,
        elapsed_s=0.0,
        error=f"A sync of {mode} mode is already running; it will finish on its own.",
        busy=True,
    )


@dataclass
class SyncScheduler:
    """Syncs every available mode in a daemon thread every few minutes, and on demand.

    One sync per mode at a time: a background run and `run_now` share a lock, and
    whichever comes second is told a sync is already running instead of waiting.
    Clients are built per run from the mode's configuration, so no key is kept here.
    """

    settings: Settings
    store: Store
    interval_s: float | None = None  # None: settings.sync_interval_minutes; 0: no thread
    concurrency: int = 4
    client_factory: Callable[[ModeConfig], KhaltiClient] = ModeConfig.client
    _records: dict[str, _ModeRecord] = field(default_factory=dict, init=False, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _wake: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _next_run_at: datetime | None = field(default=None, init=False, repr=False)

    @property
    def interval(self) -> float:
        """Seconds between background rounds; 0 means no background syncing."""
        if self.interval_s is not None:
            return max(0.0, float(self.interval_s))
        return 60.0 * self.settings.sync_interval_minutes

    @property
    def modes(self) -> tuple[str, ...]:
        return tuple(self.settings.modes)

    def start(self) -> bool:
        """Start the background thread (first round at once); False if the interval is 0."""
        if self.interval <= 0 or not self.settings.modes:
            return False
        with self._guard:
            if self._thread is not None and self._thread.is_alive():
                return True
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._loop, name="khalti-sync-scheduler", daemon=True
            )
            self._thread.start()
        return True

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the thread to stop after the sync it is running, and wait for it."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        self._thread = None

    def wake(self) -> None:
        """Run the next background round now rather than at the end of the interval."""
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._next_run_at = None
            for mode in self.modes:
                if self._stop.is_set():
                    return
                try:
                    self._run(mode, None, full=False)
                except Exception:  # the thread must outlive any one failure
                    log.exception("background sync of %s failed", mode)
            self._next_run_at = now_utc() + timedelta(seconds=self.interval)
            self._wake.wait(self.interval)
            self._wake.clear()

    def run_now(
        self, mode: str, progress: ProgressCallback | None = None, *, full: bool = False
    ) -> SyncResult:
        """Sync one mode in the caller's thread; a busy result if one is already running.

        Raises ConfigError for a mode that is not configured.
        """
        return self._run(mode, progress, full=full)

    def _record(self, mode: str) -> _ModeRecord:
        with self._guard:
            return self._records.setdefault(mode, _ModeRecord())

    def _run(self, mode: str, progress: ProgressCallback | None, *, full: bool) -> SyncResult:
        config = self.settings.require(mode)
        lock = mode_lock(self.settings.db_url, mode)
        if not lock.acquire(blocking=False):
            return _busy(mode)
        record = self._record(mode)
        record.running, record.progress = True, None

        def track(step: SyncProgress) -> None:
            record.progress = step
            if progress is not None:
                progress(step)

        crashed = None
        try:
            with self.client_factory(config) as client:
                result = sync_once(
                    client,
                    self.store,
                    mode,
                    full=full,
                    recent_days=self.settings.sync_recent_days,
                    concurrency=self.concurrency,
                    progress=track,
                )
        except Exception as exc:
            log.exception("sync of %s stopped unexpectedly", mode)
            crashed = (
                f"The sync stopped because of an unexpected problem ({type(exc).__name__}). "
                "Nothing already saved was lost; the details are in the log."
            )
            result = replace(_busy(mode), busy=False, error=crashed)
        finally:
            record.running = False
            lock.release()
        record.last_result, record.crashed = result, crashed
        return result

    def status(self, mode: str) -> SyncStatus:
        """Running, last success and last error of a mode, without asking Khalti.

        Success and error come from the store, so syncs run by another process (the
        command line, another copy of the app) show too.
        """
        record = self._record(mode)
        try:
            fresh = freshness(self.store, mode)
            last_success_at, last_error = fresh.last_success_at, fresh.last_error
        except Exception:
            log.exception("could not read the sync state of %s", mode)
            last_success_at, last_error = None, "The sync state could not be read."
        return SyncStatus(
            mode=mode,
            running=record.running,
            last_success_at=last_success_at,
            last_error=record.crashed or last_error,
            last_result=record.last_result,
            progress=record.progress if record.running else None,
            next_run_at=self._next_run_at if self.alive else None,
        )


def describe(status: SyncStatus, now: datetime | None = None) -> str:
    """ "Syncing… 40%", "synced 4 min ago", "never synced", or the last error."""
    now = now or now_utc()
    if status.running:
        step = status.progress
        return f"syncing… {step.fraction:.0%}" if step else "syncing…"
    if status.last_success_at is None:
        return "never synced"
    text = f"synced {ago_text(status.last_success_at, now)}"
    return text if status.last_error is None else f"{text}; the last try failed"


__all__ = [
    "Freshness",
    "ListShrankError",
    "SyncProgress",
    "SyncResult",
    "SyncScheduler",
    "SyncStatus",
    "ago_text",
    "describe",
    "freshness",
    "mode_lock",
    "sync_once",
]
