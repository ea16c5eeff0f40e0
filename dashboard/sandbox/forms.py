"""Request bodies and field validation, with Django REST Framework's error bodies."""

import json
import re
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs

REQUIRED = "This field is required."
BLANK = "This field may not be blank."
NOT_AN_INTEGER = "A valid integer is required."
MINIMUM_AMOUNT = "Amount should be greater than Rs. 10, that is 1000 paisa."
MINIMUM_PAISA = 1000
_TRAILING_ZEROS = re.compile(r"\.0*\s*$")
_INTEGER = re.compile(r"-?\d+")


class ApiError(Exception):
    """An answer other than success: HTTP status, JSON body and any extra headers."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}


def not_found(**extra: Any) -> ApiError:
    """DRF's 404 body, optionally with Khalti's extra keys."""
    return ApiError(404, {"detail": "Not found.", **extra})


def parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """The fields of a JSON, form-encoded or multipart body, as DRF's parsers read them."""
    if not body:
        return {}
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError) as error:
            raise ApiError(400, {"detail": f"JSON parse error - {error}"}) from error
        if not isinstance(data, dict):
            kind = type(data).__name__
            message = f"Invalid data. Expected a dictionary, but got {kind}."
            raise ApiError(400, {"non_field_errors": [message]})
        return data
    if media_type == "application/x-www-form-urlencoded":
        # A repeated key keeps its last value, as Django's QueryDict.get does.
        text = body.decode("utf-8", errors="replace")
        return {key: values[-1] for key, values in parse_qs(text, keep_blank_values=True).items()}
    if media_type == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        fields = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name:
                fields[name] = part.get_content()
        return fields
    raise ApiError(415, {"detail": f'Unsupported media type "{content_type}" in request.'})


def as_integer(value: Any) -> int | None:
    """An integer as DRF's IntegerField accepts it ("1000", "1000.0", 1000), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        text = _TRAILING_ZEROS.sub("", value.strip())
        return int(text) if _INTEGER.fullmatch(text) else None
    return None


class Fields:
    """Reads fields from a parsed body and collects field errors, the way a serializer does."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, list[str]] = {}

    def fail(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)

    def text(self, name: str, *, required: bool = True) -> str | None:
        """A non-blank string field; None (and an error if required) when absent."""
        value = self.data.get(name)
        if value is None:
            if required:
                self.fail(name, REQUIRED)
            return None
        if not isinstance(value, str | int) or isinstance(value, bool):
            self.fail(name, "Not a valid string.")
            return None
        value = str(value).strip()
        if not value:
            if required:
                self.fail(name, BLANK)
            return None
        return value

    def integer(self, name: str, *, required: bool = True) -> int | None:
        """An integer field; a missing one reads as not an integer, as Khalti answers."""
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                self.fail(name, NOT_AN_INTEGER)
            return None
        number = as_integer(value)
        if number is None:
            self.fail(name, NOT_AN_INTEGER)
        return number

    def amount(self, name: str = "amount") -> int | None:
        """A payment amount in paisa, at least Rs 10."""
        number = self.integer(name)
        if number is not None and number < MINIMUM_PAISA:
            self.fail(name, MINIMUM_AMOUNT)
            return None
        return number

    def check(self) -> None:
        """Raise the collected field errors as a 400."""
        if self.errors:
            raise ApiError(400, {**self.errors, "error_key": "validation_error"})
