from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from dashboard.sandbox import SandboxServer

NOW = datetime(2025, 11, 30, 12, 0, tzinfo=ZoneInfo("Asia/Kathmandu"))
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+05:45"


class Api:
    """A requests session bound to one sandbox, sending its secret key."""

    def __init__(self, server: SandboxServer) -> None:
        self.server = server
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Key {server.secret_key}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.get(self.server.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.session.post(self.server.url + path, timeout=10, **kwargs)

    def page(self, number: int = 1, **params: Any) -> dict[str, Any]:
        response = self.get("/api/v2/merchant-transaction/", params={"page": number, **params})
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture(scope="module")
def shared() -> Iterator[SandboxServer]:
    """A 5,000-record sandbox that tests only read."""
    with SandboxServer(records=5000, seed=42, now=NOW) as server:
        yield server


@pytest.fixture(scope="module")
def shared_api(shared: SandboxServer) -> Api:
    return Api(shared)


@pytest.fixture
def make_server() -> Iterator[Callable[..., SandboxServer]]:
    servers: list[SandboxServer] = []

    def make(**options: Any) -> SandboxServer:
        options.setdefault("records", 300)
        options.setdefault("now", NOW)
        server = SandboxServer(**options).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def srv(make_server: Callable[..., SandboxServer]) -> SandboxServer:
    """A fresh small sandbox a test may change."""
    return make_server()


@pytest.fixture
def api(srv: SandboxServer) -> Api:
    return Api(srv)
