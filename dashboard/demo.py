"""The built-in demo: an offline Khalti sandbox, settings that point at it, and a first sync.

Used when no Khalti keys are configured at all, so a newcomer sees a working dashboard
with believable payments instead of an empty screen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dashboard.config import Settings, demo_db_url
from dashboard.khalti import KhaltiClient
from dashboard.sandbox import SandboxServer
from dashboard.store import Store
from dashboard.sync import SyncProgress, SyncResult, sync_once

DEMO_SEED = 2081  # a Bikram Sambat year; any fixed seed gives the same shop every start
DEMO_MODE = "test"


@dataclass(frozen=True)
class DemoEnvironment:
    """A running sandbox, the database its payments were synced into, and that first sync."""

    server: SandboxServer
    db_url: str
    first_sync: SyncResult

    def apply(self, settings: Settings) -> Settings:
        """Settings whose test mode is this sandbox and whose database is the demo one."""
        return settings.with_demo(
            self.server.url, self.server.secret_key, self.server.public_key, self.db_url
        )


def start_demo(
    *,
    records: int,
    seed: int = DEMO_SEED,
    db_url: str | None = None,
    progress: Callable[[SyncProgress], None] | None = None,
) -> DemoEnvironment:
    """Start the sandbox with `records` demo payments and sync them into a fresh database."""
    server = SandboxServer(records=records, seed=seed).start()
    url = db_url or demo_db_url()
    try:
        client = KhaltiClient(server.secret_key, base_url=server.url, public_key=server.public_key)
        with client:
            result = sync_once(client, Store(url), DEMO_MODE, full=True, progress=progress)
    except BaseException:
        server.stop()
        raise
    return DemoEnvironment(server=server, db_url=url, first_sync=result)
