"""has_long_digit_run against the plain regular expression it stands for."""

from __future__ import annotations

import random
import re

import pytest

from publisher.core.digit_runs import RUN, STRIDE, has_long_digit_run

NAIVE = re.compile(rb"[0-9]{%d}" % RUN)


@pytest.mark.parametrize("length", [RUN - 1, RUN, RUN + 1, 2 * RUN])
@pytest.mark.parametrize("offset", range(3 * STRIDE))
def test_a_run_is_found_wherever_it_starts(length: int, offset: int) -> None:
    for tail in (b"", b"x", b"x" * 40):
        text = b"a" * offset + b"7" * length + tail
        assert has_long_digit_run(text) is (length >= RUN), (offset, length, tail)


def test_digits_spaced_like_the_sampled_places_are_not_a_run() -> None:
    # A digit at every STRIDE-th byte passes the sampled check everywhere; none is a run.
    text = (b"1" + b"-" * (STRIDE - 1)) * 2000
    assert not has_long_digit_run(text)
    assert has_long_digit_run(text + b"9" * RUN)


def test_text_of_digits_and_short_breaks_is_scanned_whole() -> None:
    # More candidate places than windows: the whole text is scanned, with the same answer.
    short_runs = (b"1" * (RUN - 1) + b",") * 1000
    assert not has_long_digit_run(short_runs)
    assert has_long_digit_run(short_runs + b"1" * RUN)
    assert has_long_digit_run(b"1" * RUN + short_runs)


def test_random_texts_agree_with_the_regular_expression() -> None:
    rng = random.Random(19)
    for _ in range(3000):
        pieces = []
        for _ in range(rng.randrange(1, 12)):
            digits = rng.choice([0, 1, 5, 9, 10, 13, 17, 18, 18, 19, 20, 30])
            pieces.append(b"".join(rng.choice(b"0123456789").to_bytes() for _ in range(digits)))
            pieces.append(rng.choice([b"", b",", b'":"', b"x" * rng.randrange(30), b"\n"]))
        text = b"".join(pieces)
        assert has_long_digit_run(text) is (NAIVE.search(text) is not None), text


def test_non_ascii_digits_are_not_digits() -> None:
    assert not has_long_digit_run("٣".encode() * 40)
    assert not has_long_digit_run(b"")
