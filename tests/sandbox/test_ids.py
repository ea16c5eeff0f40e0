import pytest

from dashboard.sandbox.ids import ALPHABET, IdCodec, Kind


def test_alphabet_is_base57_without_lookalikes():
    assert len(ALPHABET) == len(set(ALPHABET)) == 57
    assert not set("01IOl") & set(ALPHABET)


@pytest.mark.parametrize("number", [0, 1, 56, 57, 999_999, 2**40, 2**64 - 1])
def test_round_trip(number):
    codec = IdCodec(42)
    idx = codec.encode(Kind.TRANSACTION, number)
    assert len(idx) == 22 and set(idx) <= set(ALPHABET)
    assert codec.decode(idx, Kind.TRANSACTION) == number
    assert codec.decode(idx, Kind.TOKEN) is None
    assert IdCodec(43).decode(idx, Kind.TRANSACTION) != number


def test_neighbours_look_unrelated():
    codec = IdCodec(42)
    first, second = codec.encode(Kind.TRANSACTION, 0), codec.encode(Kind.TRANSACTION, 1)
    assert sum(a == b for a, b in zip(first, second, strict=True)) < 6


@pytest.mark.parametrize("idx", ["", "short", "0" * 22, "z" * 22, "2" * 23])
def test_garbage_decodes_to_none(idx):
    assert IdCodec(42).decode(idx, Kind.TRANSACTION) is None
