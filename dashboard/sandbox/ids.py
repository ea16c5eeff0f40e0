"""Reversible 22-character Khalti-style identifiers.

Every idx, token and pidx the sandbox hands out is the base57 spelling of a keyed
128-bit permutation of (kind, number). Decoding an idx gives the number back, so a
million-record sandbox can find a record from its idx without holding a million
strings in memory, and the same seed always yields the same identifiers.
"""

import hashlib
from enum import IntEnum

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
IDX_LENGTH = 22
_BASE = len(ALPHABET)
_DIGITS = {char: value for value, char in enumerate(ALPHABET)}
_MASK64 = (1 << 64) - 1
_ROUNDS = 4


class Kind(IntEnum):
    """What an identifier names; part of the encrypted value, so kinds never collide."""

    TRANSACTION = 1
    FEE = 2
    TOKEN = 3
    USER = 4
    TYPE = 5
    STATE = 6
    MERCHANT = 7
    PIDX = 8
    EPAYMENT_TRANSACTION = 9


class IdCodec:
    """Turns (kind, number) into an opaque idx and back, keyed by the sandbox seed."""

    def __init__(self, seed: int) -> None:
        key = hashlib.blake2b(f"khalti-sandbox-ids:{seed}".encode(), digest_size=32).digest()
        self._rounds = []
        for round_number in range(_ROUNDS):
            round_hash = hashlib.blake2b(key=key, digest_size=8)
            round_hash.update(bytes([round_number]))
            self._rounds.append(round_hash)

    def _mix(self, round_number: int, half: int) -> int:
        round_hash = self._rounds[round_number].copy()
        round_hash.update(half.to_bytes(8, "big"))
        return int.from_bytes(round_hash.digest(), "big")

    def encode(self, kind: Kind, number: int) -> str:
        """The idx of item `number` (0 <= number < 2**64) of the given kind."""
        left, right = int(kind), number & _MASK64
        for round_number in range(_ROUNDS):
            left, right = right, left ^ self._mix(round_number, right)
        value = (left << 64) | right
        chars = []
        for _ in range(IDX_LENGTH):
            value, digit = divmod(value, _BASE)
            chars.append(ALPHABET[digit])
        return "".join(reversed(chars))

    def decode(self, idx: str, kind: Kind) -> int | None:
        """The number behind `idx` if it is an idx of `kind`, else None."""
        if len(idx) != IDX_LENGTH:
            return None
        value = 0
        for char in idx:
            digit = _DIGITS.get(char)
            if digit is None:
                return None
            value = value * _BASE + digit
        if value >> 128:
            return None
        left, right = value >> 64, value & _MASK64
        for round_number in reversed(range(_ROUNDS)):
            left, right = right ^ self._mix(round_number, left), left
        return right if left == kind else None
