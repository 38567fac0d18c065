"""The dead-letter store protocol: write, list, and claim for replay exactly once.

The daemon writes through it (it is a DeadLetterSink); `dlq` lists and replays through it from
any machine that has the config. Claiming marks dead letters replayed atomically in the store,
so two operators replaying at once never put the same dead letter back twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from publisher.engine.deadletter import DeadLetter, dead_letter_record, encode_record


@dataclass(frozen=True, slots=True)
class StoredDeadLetter:
    """One dead letter as a store holds it: its JSON record and whether it was replayed."""

    record: dict[str, Any]
    replayed: bool = False

    @property
    def dead_letter_id(self) -> str:
        return str(self.record.get("dead_letter_id", ""))

    @property
    def tenant(self) -> str | None:
        event = self.record.get("event")
        tenant = event.get("tenant") if isinstance(event, dict) else None
        return tenant if isinstance(tenant, str) else None


class DeadLetterStore(Protocol):
    """Where dead letters are kept; `describe` names it for people (file path, stream, ...)."""

    @property
    def describe(self) -> str: ...

    async def start(self) -> None:
        """Connect and create what is missing (table, directory)."""

    async def write(self, letters: Sequence[DeadLetter]) -> None:
        """Store durably before returning; raise when that failed (the messages stay unacked)."""

    async def records(self) -> list[StoredDeadLetter]:
        """Every dead letter, oldest first."""

    async def claim(self, dead_letter_ids: Sequence[str]) -> list[str]:
        """Mark these replayed; return only those this call marked (not already marked)."""

    async def unclaim(self, dead_letter_ids: Sequence[str]) -> None:
        """Undo a claim whose replay failed, so a later replay takes them."""

    async def close(self) -> None: ...


def encode_letters(
    letters: Sequence[DeadLetter], clock: Any = time.time
) -> list[tuple[dict[str, Any], bytes]]:
    """Each letter's record and its JSON bytes, as the shared stores keep them."""
    now = clock()
    encoded = []
    for letter in letters:
        record = dead_letter_record(letter, now)
        # encode_record keeps an event too deep for orjson as its raw text.
        encoded.append((record, encode_record(record, letter.message.body).rstrip(b"\n")))
    return encoded


def decode_record(data: bytes | str) -> dict[str, Any] | None:
    """A stored record, or None for one that is not a JSON object (never written by us)."""
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None
