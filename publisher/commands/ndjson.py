"""NDJSON input for the commands that read events from a file or stdin (send, enqueue)."""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, cast


def add_ndjson_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="NDJSON file, or - for stdin")
    parser.add_argument(
        "--progress-interval-s",
        type=float,
        default=2.0,
        help="seconds between progress lines on stderr (0 turns them off)",
    )


@contextmanager
def open_lines(path: str) -> Iterator[io.BufferedReader]:
    """The file, or stdin for '-'; FileNotFoundError for a missing file."""
    if path == "-":
        # Typed as BinaryIO, stdin's buffer is a BufferedReader unless a caller replaced it.
        yield cast(io.BufferedReader, sys.stdin.buffer)
        return
    with open(path, "rb") as handle:
        yield handle


def read_lines(handle: IO[bytes], limit: int) -> list[bytes]:
    """Up to `limit` non-blank lines, stripped; [] at the end of the input."""
    lines: list[bytes] = []
    while len(lines) < limit:
        line = handle.readline()
        if not line:
            break
        stripped = line.strip()
        if stripped:
            lines.append(stripped)
    return lines
