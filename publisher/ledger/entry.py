"""One ledger entry, its compact stored form, and the view `trace` and the admin port print."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from publisher.engine.deadletter import iso_time

PUBLISHED = "published"
DEAD_LETTERED = "dead_lettered"
PENDING = "pending"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """An event's latest known state; `settled_at` is when it was published or dead-lettered."""

    id: str
    tenant: str
    state: str
    received_at: float
    attempts: int
    written_at: float
    aws_event_id: str | None = None
    settled_at: float | None = None
    reason: str | None = None
    dead_letter_id: str | None = None

    def fields(self) -> list[Any]:
        """The stored form, without id and tenant (the store's key); times to the millisecond
        (Redis's scripts keep 14 significant digits of a number)."""
        return [
            self.state,
            round(self.received_at, 3),
            self.attempts,
            round(self.written_at, 3),
            self.aws_event_id,
            None if self.settled_at is None else round(self.settled_at, 3),
            self.reason,
            self.dead_letter_id,
        ]

    @classmethod
    def from_fields(cls, event_id: str, tenant: str, fields: list[Any]) -> LedgerEntry:
        state, received, attempts, written, aws_event_id, settled, reason, dead_letter_id = fields
        return cls(
            event_id,
            tenant,
            str(state),
            float(received),
            int(attempts),
            float(written),
            aws_event_id,
            None if settled is None else float(settled),
            reason,
            dead_letter_id,
        )


def latest(entries: Iterable[LedgerEntry]) -> LedgerEntry | None:
    """The entry that says most: a settled one beats pending, then the latest written."""
    return max(entries, key=lambda e: (e.state != PENDING, e.written_at), default=None)


def view(event_id: str, tenant: str | None, entry: LedgerEntry | None) -> dict[str, Any]:
    """The JSON `trace --output json` prints last and `GET /v1/events/{id}` answers."""
    if entry is None:
        return {
            "id": event_id,
            "tenant": tenant,
            "state": UNKNOWN,
            "aws_event_id": None,
            "attempts": None,
            "reason": None,
            "received_at": None,
            "published_at": None,
            "dead_lettered_at": None,
            "dead_letter_id": None,
        }
    settled = None if entry.settled_at is None else iso_time(entry.settled_at)
    return {
        "id": entry.id,
        "tenant": entry.tenant,
        "state": entry.state,
        "aws_event_id": entry.aws_event_id,
        "attempts": entry.attempts,
        "reason": entry.reason,
        "received_at": iso_time(entry.received_at),
        "published_at": settled if entry.state == PUBLISHED else None,
        "dead_lettered_at": settled if entry.state == DEAD_LETTERED else None,
        "dead_letter_id": entry.dead_letter_id,
    }
