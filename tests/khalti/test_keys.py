"""Secret keys mask themselves; base URLs only ever carry a key over HTTPS or loopback."""

import copy
import pickle

import pytest

from dashboard.khalti.keys import KeyShapeError, SecretKey, check_base_url, is_loopback_host

TEST_KEY = "test_secret_key_0123456789abcdef0123456789abcdef"
LIVE_KEY = "live_secret_key_fedcba9876543210fedcba9876543210"


def test_secret_key_masks_itself() -> None:
    key = SecretKey(TEST_KEY)
    assert key.reveal() == TEST_KEY
    assert key.prefix == "test"
    assert key.masked == "test_secret_key_…cdef"
    for shown in (repr(key), str(key), f"{key}", f"{key!r}", repr([key]), repr({"k": key})):
        assert TEST_KEY not in shown
        assert "0123456789abcdef0123" not in shown
    assert repr(key) == "SecretKey(test_secret_key_…cdef)"


def test_live_key_prefix() -> None:
    key = SecretKey(LIVE_KEY)
    assert key.prefix == "live"
    assert key.masked.startswith("live_secret_key_…")


def test_surrounding_whitespace_is_forgiven() -> None:
    assert SecretKey(f"  {TEST_KEY}\n").reveal() == TEST_KEY


def test_keys_compare_by_value() -> None:
    assert SecretKey(TEST_KEY) == SecretKey(TEST_KEY)
    assert SecretKey(TEST_KEY) != SecretKey(LIVE_KEY)
    assert SecretKey(TEST_KEY) != TEST_KEY
    assert len({SecretKey(TEST_KEY), SecretKey(TEST_KEY)}) == 1


def test_secret_key_is_not_picklable() -> None:
    key = SecretKey(TEST_KEY)
    with pytest.raises(TypeError, match="not picklable"):
        pickle.dumps(key)
    with pytest.raises(TypeError):
        pickle.dumps({"nested": [key]})
    with pytest.raises(TypeError):
        copy.deepcopy(key)


def test_secret_key_has_no_dict_to_leak_through() -> None:
    key = SecretKey(TEST_KEY)
    assert not hasattr(key, "__dict__")
    with pytest.raises(AttributeError):
        key.value = "x"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "text",
    [
        "",
        None,
        "test_secret_key_",
        "test_secret_key_0123456789abcdef0123456789abcde",  # 31 hex
        "test_secret_key_0123456789abcdef0123456789abcdef0",  # 33 hex
        "test_secret_key_0123456789ABCDEF0123456789ABCDEF",  # upper case
        "test_secret_key_0123456789abcdef0123456789abcdeg",
        "test_public_key_0123456789abcdef0123456789abcdef",
        "prod_secret_key_0123456789abcdef0123456789abcdef",
        "Key test_secret_key_0123456789abcdef0123456789abcdef",
        "test_secret_key_0123456789abcdef 0123456789abcdef",
    ],
)
def test_wrong_shapes_are_refused_without_repeating_the_text(text: str | None) -> None:
    with pytest.raises(KeyShapeError) as caught:
        SecretKey(text)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "test_secret_key_ or live_secret_key_" in message
    assert "0123456789abcdef" not in message
    assert "0123456789ABCDEF" not in message


def test_key_shape_error_is_a_value_error() -> None:
    assert issubclass(KeyShapeError, ValueError)


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("https://khalti.com", "https://khalti.com"),
        ("https://khalti.com/", "https://khalti.com"),
        ("  https://dev.khalti.com//  ", "https://dev.khalti.com"),
        ("HTTPS://Dev.Khalti.com", "https://dev.khalti.com"),
        ("https://khalti.com:8443/proxy/", "https://khalti.com:8443/proxy"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.5:8000", "http://127.0.0.5:8000"),
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
    ],
)
def test_check_base_url_accepts(url: str, normalised: str) -> None:
    assert check_base_url(url) == normalised


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://khalti.com", "not encrypted"),
        ("http://dev.khalti.com", "not encrypted"),
        ("http://192.168.1.10:8000", "not encrypted"),
        ("http://0.0.0.0:8000", "not encrypted"),
        ("http://localhost.example.com", "not encrypted"),
        ("http://127.0.0.1.nip.io", "not encrypted"),
        ("https://user:pass@khalti.com", "no login, query or #"),
        ("https://user@khalti.com", "no login, query or #"),
        ("https://khalti.com/?page=2", "no login, query or #"),
        ("https://khalti.com?", "no login, query or #"),
        ("https://khalti.com/#top", "no login, query or #"),
        ("https://khalti.com#", "no login, query or #"),
        ("khalti.com", "not a web address"),
        ("ftp://khalti.com", "not a web address"),
        ("https://", "not a web address"),
        ("", "not a web address"),
        ("https://khalti.com:99999", "port"),
        ("https://khalti.com:http", "port"),
    ],
)
def test_check_base_url_refuses(url: str, message: str) -> None:
    with pytest.raises(KeyShapeError, match=message):
        check_base_url(url)


def test_check_base_url_never_echoes_a_login_or_a_key() -> None:
    with pytest.raises(KeyShapeError) as caught:
        check_base_url(f"https://merchant:{TEST_KEY}@khalti.com")
    assert TEST_KEY not in str(caught.value)
    for pasted in (TEST_KEY, f"https://khalti.com/?key={TEST_KEY}", f"Key {LIVE_KEY}"):
        with pytest.raises(KeyShapeError) as caught:
            check_base_url(pasted)
        assert TEST_KEY not in str(caught.value)
        assert LIVE_KEY not in str(caught.value)
        assert "0123456789abcdef" not in str(caught.value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("0.0.0.0", False),  # noqa: S104 - a string under test, nothing is bound
        ("10.0.0.1", False),
        ("khalti.com", False),
        ("localhost.evil.com", False),
    ],
)
def test_is_loopback_host(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
