"""Idempotent puts: an event's (tenant, id) stored once within a window, on every input.

An input that can remember keys atomically with its own writes implements `put_once` (the
spool in its SQLite file, Redis in the script that adds to the stream); any other input is
wrapped in `publisher.inputs.dedupe_file.RememberingInput`, which keeps the keys in a SQLite
file of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import orjson

from publisher.core.event import Event


def dedupe_key(tenant: str, event_id: str) -> str:
    """One text per (tenant, id), unambiguous whatever characters either holds."""
    return orjson.dumps([tenant, event_id]).decode()


@dataclass(frozen=True, slots=True)
class DedupeLimits:
    window_s: float
    """A key is remembered this long after it was stored."""
    max_ids: int
    """At most this many keys are remembered; the oldest are forgotten first."""


@dataclass(frozen=True, slots=True)
class KeyedBodies:
    """Bodies to store at most once, each with its key (None: stored whatever came before)."""

    keys: Sequence[str | None]
    bodies: Sequence[bytes]
    events: Sequence[Event] | None = None
    """The validated events of the bodies, when the caller has them."""


@runtime_checkable
class PutsOnce(Protocol):
    """An input that stores each keyed body at most once within the window."""

    async def put_once(self, batch: KeyedBodies, limits: DedupeLimits) -> list[bool]:
        """Store the bodies whose key is None or not remembered, and remember their keys, in
        one step (all or nothing, as `put`); return for each body whether it was a duplicate.

        The keys of one call are distinct (the caller marks repeats within a request itself).
        """
        ...


def split_repeats(keys: Sequence[str | None]) -> tuple[list[str | None], list[bool]]:
    """Keys with repeats within the same request blanked out, and which items were repeats."""
    seen: set[str] = set()
    unique: list[str | None] = []
    repeats: list[bool] = []
    for key in keys:
        repeat = key is not None and key in seen
        if key is not None:
            seen.add(key)
        unique.append(None if repeat else key)
        repeats.append(repeat)
    return unique, repeats
