"""Random (version 4) UUIDs drawn in bulk: one read of the OS's randomness for many ids,
the version and variant bits set for all at once, several times cheaper than uuid.uuid4()
per id."""

from __future__ import annotations

import os

# uuid.UUID(version=4) sets these bits: the version nibble of byte 6, the variant of byte 8.
_VERSION_4 = bytes((byte & 0x0F) | 0x40 for byte in range(256))
_VARIANT_RFC_4122 = bytes((byte & 0x3F) | 0x80 for byte in range(256))

HEX_BATCH = 256
"""Ids drawn at once by HexUuids: a read of 4 KiB of randomness."""


def _random_hex(count: int) -> str:
    """The 32 hex digits of `count` random UUIDs, one after the other."""
    randomness = bytearray(os.urandom(16 * count))
    randomness[6::16] = randomness[6::16].translate(_VERSION_4)
    randomness[8::16] = randomness[8::16].translate(_VARIANT_RFC_4122)
    return randomness.hex()


# A UUID's text: 36 characters, its 32 hex digits at these places, dashes between the groups.
_UUID_CHARS = 36
_DIGIT_PLACES = [i for i in range(_UUID_CHARS) if i not in (8, 13, 18, 23)]
# Each UUID in the text random_uuids builds is followed by a newline, which split() drops.
_TEMPLATE = b"-" * _UUID_CHARS + b"\n"
_STRIDE = len(_TEMPLATE)


def random_uuids(count: int) -> list[str]:
    """`count` random UUIDs as text, as str(uuid.uuid4()) writes them."""
    digits = _random_hex(count).encode()
    text = bytearray(_TEMPLATE * count)
    # One strided copy per digit place for all the ids at once, rather than formatting each
    # id on its own: the work per id is done in C.
    for digit, place in enumerate(_DIGIT_PLACES):
        text[place::_STRIDE] = digits[digit::32]
    return text.decode().split()


class HexUuids:
    """Random UUIDs one at a time, as uuid.uuid4().hex writes them, drawn HEX_BATCH at once."""

    __slots__ = ("_pool",)

    def __init__(self) -> None:
        self._pool: list[str] = []

    def next(self) -> str:
        pool = self._pool
        if not pool:
            text = _random_hex(HEX_BATCH)
            pool.extend(text[i : i + 32] for i in range(0, 32 * HEX_BATCH, 32))
        return pool.pop()
