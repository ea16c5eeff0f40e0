"""The sandbox over HTTP: routing, authentication, pagination, and the SandboxServer handle."""

import contextlib
import hashlib
import json
import logging
import re
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from dashboard.sandbox.forms import ApiError, as_integer, not_found, parse_body
from dashboard.sandbox.ledger import Ledger
from dashboard.sandbox.records import KATHMANDU

log = logging.getLogger(__name__)

PAGE_SIZE_MAX = 500
_KEY_SHAPE = re.compile(r"(test|live)_(secret|public)_key_[0-9a-f]{32}")
_POLL_SECONDS = 0.05  # how soon a stopped server notices; stop() waits this long at most
_IDLE_SECONDS = 60  # keep-alive connections left idle longer are closed

Answer = tuple[int, dict[str, Any]]


def check_key(key: str, kind: str) -> str:
    """`key` if it has the shape of a Khalti `kind` ("secret" or "public") key."""
    match = _KEY_SHAPE.fullmatch(key)
    if match is None or match.group(2) != kind:
        raise ValueError(
            # The value itself stays out of the message: it may be a real key, mistyped.
            f"That is not a Khalti {kind} key: expected test_{kind}_key_ or "
            f"live_{kind}_key_ followed by 32 lowercase hex digits"
        )
    return key


def default_key(kind: str, seed: int) -> str:
    """The `kind` key a sandbox with this seed accepts unless told otherwise."""
    digest = hashlib.blake2b(f"khalti-sandbox-{kind}-key:{seed}".encode(), digest_size=16)
    return f"test_{kind}_key_{digest.hexdigest()}"


class _Request:
    """What a route needs of one HTTP request."""

    def __init__(self, method: str, target: str, headers: Message, body: bytes, host: str) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.host = headers.get("Host") or host
        parts = urlsplit(target)
        self.path = parts.path
        self.raw_query = parse_qs(parts.query, keep_blank_values=True)
        self.query = {key: values[-1] for key, values in self.raw_query.items()}

    def fields(self) -> dict[str, Any]:
        return parse_body(self.headers.get("Content-Type", ""), self.body)

    def link(self, **changes: str | None) -> str:
        """This request's absolute URL with query parameters replaced (None drops one)."""
        query = dict(self.raw_query)
        for key, value in changes.items():
            if value is None:
                query.pop(key, None)
            else:
                query[key] = [value]
        # Sorted, as Django's replace_query_param writes them.
        query_string = urlencode(sorted(query.items()), doseq=True)
        return urlunsplit(("http", self.host, self.path, query_string, ""))


class SandboxServer:
    """An offline Khalti merchant API with deterministic demo data, served over loopback."""

    def __init__(
        self,
        records: int = 5000,
        seed: int = 42,
        secret_key: str | None = None,
        public_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        page_size: int = 50,
        now: datetime | None = None,
    ) -> None:
        if records < 0:
            raise ValueError("records must not be negative")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if now is None:
            now = datetime.now(KATHMANDU)
        elif now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        self.secret_key = check_key(secret_key or default_key("secret", seed), "secret")
        self.public_key = check_key(public_key or default_key("public", seed), "public")
        self.page_size = page_size
        self.fail_pages: set[int] = set()
        self.request_log: list[tuple[str, str]] = []
        self._log_lock = threading.Lock()
        self._ledger = Ledger(records=records, seed=seed, now=now)
        self._routes = self._route_table()
        self._httpd = _HttpServer((host, port), self)
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        """Serve in a daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": _POLL_SECONDS},
                name=f"khalti-sandbox {self.url}",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self._httpd.serve_forever(poll_interval=_POLL_SECONDS)

    def stop(self) -> None:
        """Stop serving, drop open connections and release the port."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- hooks for tests ---------------------------------------------------------------

    @property
    def total(self) -> int:
        return self._ledger.total

    @property
    def demo_pidx(self) -> dict[str, str]:
        return dict(self._ledger.demo_pidx)

    @property
    def demo_tokens(self) -> dict[str, tuple[str, int]]:
        return dict(self._ledger.demo_tokens)

    def add_payments(
        self, n: int, *, state: str = "Completed", amount: int | None = None
    ) -> list[str]:
        """Add `n` payments at the head of the list; their idx, newest first."""
        return self._ledger.add_payments(n, state, amount)

    def set_state(self, idx: str, state_name: str) -> None:
        """Force a transaction (by idx) or an ePayment (by pidx) into a state.

        KeyError for an unknown idx, ValueError for an unknown state or status.
        """
        self._ledger.set_state(idx, state_name)

    def record(self, idx: str) -> dict[str, Any]:
        """Transaction `idx` as the list endpoint renders it; KeyError if unknown."""
        record = self._ledger.record(idx)
        if record is None:
            raise KeyError(idx)
        return record

    def advance(self, delta: timedelta) -> None:
        """Move the server clock forward, e.g. past an ePayment link's 60 minutes."""
        self._ledger.advance(delta.total_seconds())

    # -- HTTP --------------------------------------------------------------------------

    def _route_table(self) -> list[tuple[str, re.Pattern[str], Callable[..., Answer], bool]]:
        # (method, path, handler, needs the secret key)
        return [
            (method, re.compile(path), handler, secret)
            for method, path, handler, secret in (
                ("GET", r"/api/v2/merchant-transaction/", self._list, True),
                ("GET", r"/api/v2/merchant-transaction/(?P<idx>[^/]+)/", self._detail, True),
                ("POST", r"/api/merchant-transaction/(?P<idx>[^/]+)/refund/", self._refund, True),
                ("POST", r"/api/v2/payment/verify/", self._verify, True),
                ("GET", r"/api/v2/payment/status/", self._status, True),
                ("POST", r"/api/v2/payment/initiate/", self._initiate, False),
                ("POST", r"/api/v2/payment/confirm/", self._confirm, False),
                ("POST", r"/api/v2/epayment/initiate/", self._epayment_initiate, True),
                ("POST", r"/api/v2/epayment/lookup/", self._lookup, True),
            )
        ]

    def _answer(self, request: _Request) -> Answer:
        with self._log_lock:
            self.request_log.append((request.method, request.target))
        # Django answers HEAD with the GET view, minus the body.
        method = "GET" if request.method == "HEAD" else request.method
        allowed = []
        for route_method, pattern, handler, secret in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if route_method != method:
                allowed.append(route_method)
                continue
            if secret:
                self._authenticate(request.headers)
            return handler(request, **match.groupdict())
        if allowed:
            headers = {"Allow": ", ".join([*allowed, "OPTIONS"])}
            raise ApiError(405, {"detail": f'Method "{request.method}" not allowed.'}, headers)
        raise not_found()

    def _authenticate(self, headers: Message) -> None:
        scheme, _, key = headers.get("Authorization", "").strip().partition(" ")
        challenge = {"WWW-Authenticate": "Key"}
        if scheme.lower() != "key":
            body = {"detail": "Authentication credentials were not provided.", "status_code": 401}
            raise ApiError(401, body, challenge)
        if key.strip() != self.secret_key:
            raise ApiError(401, {"detail": "Invalid token.", "status_code": 401}, challenge)

    def _list(self, request: _Request) -> Answer:
        size = as_integer(request.query.get("page_size"))
        size = min(size, PAGE_SIZE_MAX) if size is not None and size > 0 else self.page_size
        total = self._ledger.total
        pages = max(1, -(-total // size))
        raw_page = request.query.get("page", "1")
        try:
            number = pages if raw_page == "last" else int(raw_page)
        except ValueError:
            number = 0
        if not 1 <= number <= pages:
            raise ApiError(404, {"detail": "Invalid page."})
        if number in self.fail_pages:
            raise ApiError(503, {"detail": "Service unavailable."})
        offset = (number - 1) * size
        records = self._ledger.newest(offset, size, total)
        # DRF drops the page parameter from links to page 1.
        previous = None
        if number > 1:
            previous = request.link(page=str(number - 1) if number > 2 else None)
        return 200, {
            "total_pages": pages,
            "total_records": total,
            "next": request.link(page=str(number + 1)) if number < pages else None,
            "previous": previous,
            "record_range": [offset + 1, offset + len(records)] if records else [0, 0],
            "current_page": number,
            "records": records,
        }

    def _detail(self, request: _Request, idx: str) -> Answer:
        return 200, self._ledger.detail(idx)

    def _refund(self, request: _Request, idx: str) -> Answer:
        return 200, self._ledger.refund(idx, request.fields())

    def _verify(self, request: _Request) -> Answer:
        return 200, self._ledger.verify(request.fields())

    def _status(self, request: _Request) -> Answer:
        return 200, self._ledger.status(request.query.get("token"), request.query.get("amount"))

    def _initiate(self, request: _Request) -> Answer:
        return 200, self._ledger.initiate(request.fields(), self.public_key)

    def _confirm(self, request: _Request) -> Answer:
        return 200, self._ledger.confirm(request.fields(), self.public_key)

    def _epayment_initiate(self, request: _Request) -> Answer:
        return 200, self._ledger.epayment_initiate(request.fields())

    def _lookup(self, request: _Request) -> Answer:
        return self._ledger.lookup(request.fields())


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End kept-alive connections, so a stopped sandbox really stops answering."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer
    protocol_version = "HTTP/1.1"
    timeout = _IDLE_SECONDS
    # Headers and body go out as separate writes; with Nagle on, the body would wait
    # for the client's delayed ACK (about 40 ms a request).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _dispatch(self) -> None:
        host = "{}:{}".format(*self.server.server_address[:2])
        try:
            request = _Request(self.command, self.path, self.headers, self._read_body(), host)
            status, body = self.server.sandbox._answer(request)
            headers: dict[str, str] = {}
        except ApiError as error:
            status, body, headers = error.status, error.body, error.headers
        except Exception:
            log.exception("sandbox failed on %s %s", self.command, self.path)
            status, body, headers = 500, {"detail": "A server error occurred."}, {}
        self._send(status, body, headers)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline().strip():
                pass  # trailer headers
            return b"".join(chunks)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.close_connection = True
            raise ApiError(400, {"detail": "Invalid Content-Length header."}) from None
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # Requests too malformed to route still answer JSON, like everything else.
        self.close_connection = True
        detail = message or HTTPStatus(code).phrase
        self._send(code, {"detail": detail}, {"Connection": "close"})

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)
