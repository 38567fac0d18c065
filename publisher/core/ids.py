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


def random_uuids(count: int) -> list[str]:
    """`count` random UUIDs as text, as str(uuid.uuid4()) writes them."""
    text = _random_hex(count)
    return [
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-"
        f"{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


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
