"""A fresh sandbox and a client bound to it; the store fixture comes from tests/conftest.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dashboard.khalti import KhaltiClient
from dashboard.sandbox import SandboxServer

OPERATOR = "Sita Rai"


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(records=300, seed=11) as server:
        yield server


def client_to(url: str, sandbox: SandboxServer, **options: float) -> KhaltiClient:
    return KhaltiClient(
        sandbox.secret_key,
        base_url=url,
        public_key=sandbox.public_key,
        backoff_factor=0.01,
        **options,
    )


@pytest.fixture
def client(sandbox: SandboxServer) -> Iterator[KhaltiClient]:
    with client_to(sandbox.url, sandbox) as khalti:
        yield khalti


@pytest.fixture
def dead_url() -> str:
    """A loopback address where nothing listens: connections are refused at once."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"
