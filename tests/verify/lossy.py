"""A real TCP relay in front of the sandbox that loses answers, as a flaky network does.

"forward" relays the request to the sandbox and then hangs up without passing the answer
back (the request arrived; the client never learns the outcome). "swallow" hangs up
without relaying anything (nothing arrived, but the client cannot know that either).
"pass" relays both ways, as a network that has recovered. `mode` may change at any time.
"""

from __future__ import annotations

import socket
import threading
from typing import Literal, Self
from urllib.parse import urlsplit


def _read_message(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


class LossyRelay:
    """Listens on loopback and handles one request per connection, as `mode` says."""

    def __init__(self, target_url: str, mode: Literal["forward", "swallow", "pass"]) -> None:
        parts = urlsplit(target_url)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.mode = mode
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._listener.getsockname()[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._thread.join()
        self._listener.close()

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            with conn:
                request = _read_message(conn)
                self.requests.append(request)
                if self.mode == "swallow" or not request:
                    continue
                with socket.create_connection(self.target) as upstream:
                    upstream.sendall(request)
                    # Waiting for the whole answer means the sandbox has handled the request.
                    answer = _read_message(upstream)
                if self.mode == "pass":
                    # One request per connection, so tell the client not to reuse it.
                    conn.sendall(answer.replace(b"\r\n", b"\r\nConnection: close\r\n", 1))
