"""One error tree for everything that can go wrong talking to Khalti.

Messages are written for a person at the shop counter and never contain the secret key.
"""

from __future__ import annotations

from typing import Any


class KhaltiError(Exception):
    """Base error: carries the HTTP status and Khalti's parsed answer when there was one."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        body: Any = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status
        self.body = body
        self.request_id = request_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, http_status={self.http_status})"


class AuthenticationError(KhaltiError):
    """401: the secret key is wrong, revoked or missing."""


class ValidationError(KhaltiError):
    """400 with field errors; `field_errors` maps field -> list of Khalti's messages."""

    def __init__(self, message: str, *, field_errors: dict[str, list[str]], **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field_errors = field_errors


class NotFoundError(KhaltiError):
    """404: no such transaction, pidx or page."""


class RateLimitError(KhaltiError):
    """429 after all retries; `retry_after` is Khalti's requested wait in seconds, if given."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(KhaltiError):
    """5xx after all retries: Khalti is having trouble."""


class UnexpectedResponseError(KhaltiError):
    """Khalti answered, but not in a shape the contract describes."""


class KhaltiConnectionError(KhaltiError):
    """The request did not get an answer (refused, reset, timed out).

    `may_have_reached_server` is False only when we know nothing was sent (the
    connection could not be opened); for verify and refund that decides whether the
    outcome is unknown.
    """

    def __init__(self, message: str, *, may_have_reached_server: bool, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.may_have_reached_server = may_have_reached_server


class OutcomeUnknownError(KhaltiConnectionError):
    """A money-moving call was sent but no answer came back: check its status before retrying."""

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, may_have_reached_server=True, **kwargs)
