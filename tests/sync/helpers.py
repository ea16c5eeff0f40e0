"""Reading the sandbox independently of the sync engine, to know what "exactly" means."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from dashboard.khalti import KhaltiClient
from dashboard.sandbox import SandboxServer

TEST_SECRET = "test_secret_key_5a1d0c9e8b7f46a3b2c1d0e9f8a7b6c5"
LIVE_SECRET = "live_secret_key_0f1e2d3c4b5a69788796a5b4c3d2e1f0"
PAGE_SIZE = 50
_PAGE = re.compile(r"^/api/v2/merchant-transaction/\?page=(\d+)$")


def server_records(sandbox: SandboxServer) -> list[dict[str, Any]]:
    """Every record the sandbox lists, newest first, read with its largest page size."""
    records: list[dict[str, Any]] = []
    page = 1
    while True:
        answer = requests.get(
            f"{sandbox.url}/api/v2/merchant-transaction/",
            params={"page": page, "page_size": 500},
            headers={"Authorization": f"Key {sandbox.secret_key}"},
            timeout=30,
        )
        answer.raise_for_status()
        body = answer.json()
        records.extend(body["records"])
        if body["next"] is None:
            return records
        page += 1


def server_idxs(sandbox: SandboxServer) -> set[str]:
    return {record["idx"] for record in server_records(sandbox)}


def list_pages_requested(sandbox: SandboxServer) -> list[int]:
    """Page numbers the sync engine asked for, in order (this module's reads excluded)."""
    pages = []
    for method, target in list(sandbox.request_log):
        match = _PAGE.match(target)
        if method == "GET" and match:
            pages.append(int(match.group(1)))
    return pages


def client(sandbox: SandboxServer, **options: Any) -> KhaltiClient:
    return KhaltiClient(sandbox.secret_key, base_url=sandbox.url, **options)


@contextmanager
def running(**options: Any) -> Iterator[SandboxServer]:
    options.setdefault("secret_key", TEST_SECRET)
    options.setdefault("page_size", PAGE_SIZE)
    with SandboxServer(**options) as server:
        yield server
