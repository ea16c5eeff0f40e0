"""Secret keys and hosts: what a key looks like, and where it may be sent."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

SECRET_KEY_SHAPE = re.compile(r"^(test|live)_secret_key_[0-9a-f]{32}$")
PUBLIC_KEY_SHAPE = re.compile(r"^(test|live)_public_key_[0-9a-f]{32}$")
_KEY_INSIDE = re.compile(r"(test|live)_(secret|public)_key_", re.IGNORECASE)


class KeyShapeError(ValueError):
    """A key or URL that cannot be right; the message never repeats the key."""


class SecretKey:
    """A Khalti secret key that masks itself wherever it could be printed.

    Only the client calls `reveal()`, to build the Authorization header.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        value = (value or "").strip()
        match = SECRET_KEY_SHAPE.match(value)
        if not match:
            raise KeyShapeError(
                "This is not a Khalti secret key: expected test_secret_key_ or "
                "live_secret_key_ followed by 32 hexadecimal characters."
            )
        self._value = value

    @property
    def prefix(self) -> str:
        """ "test" or "live", from the key itself."""
        return self._value.split("_", 1)[0]

    @property
    def masked(self) -> str:
        """Safe to show: test_secret_key_…1a2b."""
        return f"{self.prefix}_secret_key_…{self._value[-4:]}"

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"SecretKey({self.masked})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretKey) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple:
        # Pickling would write the key into caches and files.
        raise TypeError("a secret key is not picklable")


def is_loopback_host(host: str) -> bool:
    if host in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str) -> str:
    """Normalise a Khalti base URL; refuse anything but HTTPS, or plain HTTP on loopback."""
    text = (url or "").strip().rstrip("/")
    if _KEY_INSIDE.search(text):
        # A key pasted into the address setting must not be echoed back in the message.
        raise KeyShapeError("The base URL setting holds a Khalti key, not a web address.")
    parts = urlsplit(text)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise KeyShapeError(f"“{text}” is not a web address such as https://khalti.com.")
    # "?" and "#" count even when empty: paths appended after them would not be paths.
    if parts.username or parts.password or "?" in text or "#" in text:
        raise KeyShapeError(f"“{parts.hostname}”: a Khalti base URL has no login, query or #.")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise KeyShapeError(f"“{text}” has an impossible port number.") from None
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise KeyShapeError(
            f"http://{parts.hostname} is not encrypted; the secret key is only sent over "
            "HTTPS (plain HTTP is allowed to this computer only)."
        )
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, "", ""))
