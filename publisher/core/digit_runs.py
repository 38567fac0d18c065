"""Whether a text holds 19 or more digits in a row: an integer that may not fit 64 bits.

A signed 64-bit integer has at most 19 digits, so a body without such a run needs no exact
decoding. Every byte is looked at only in the rare body that may hold one: a run of 19
digits covers at least two consecutive multiples of STRIDE, so the bytes at those places
alone (about a ninth of the body) rule most bodies out; each place where two of them are
digits is then checked in full, in a window around it.
"""

from __future__ import annotations

RUN = 19
STRIDE = 9
# Mapping every digit to "0" and every other byte to " " turns the search for a run into a
# plain substring search, several times faster than a regular expression.
_DIGITS_AS_ZERO = bytes(0x30 if 0x30 <= byte <= 0x39 else 0x20 for byte in range(256))
_LONG_RUN = b"0" * RUN
_PAIR = b"00"
# A run holding the places `at` and `at + STRIDE` starts at or after this many bytes before
# `at`, and ends before `at + RUN`.
_BEFORE = RUN - 1 - STRIDE
# Text full of digits (every place a candidate) is scanned whole rather than window by window.
_WINDOWS_PER_PLACE = 1 / 32


def has_long_digit_run(text: bytes) -> bool:
    """True when `text` holds RUN or more digits in a row."""
    # find, not `in`: bytes.__contains__ first tries its operand as an integer (a byte value)
    # and raises and clears a TypeError doing so, which costs more than the search.
    places = text[::STRIDE].translate(_DIGITS_AS_ZERO)
    place = places.find(_PAIR)
    if place < 0:
        return False  # the usual body
    windows_left = 4 + int(len(places) * _WINDOWS_PER_PLACE)
    while place >= 0:
        if not windows_left:
            return _scan(text)
        windows_left -= 1
        at = place * STRIDE
        if _scan(text[max(0, at - _BEFORE) : at + RUN]):
            return True
        place = places.find(_PAIR, place + 1)
    return False


def _scan(text: bytes) -> bool:
    return text.translate(_DIGITS_AS_ZERO).find(_LONG_RUN) >= 0
