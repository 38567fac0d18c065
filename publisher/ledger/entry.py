"""One ledger entry, its compact stored form, and the view `trace` and the admin port print."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from publisher.engine.deadletter import iso_time

PUBLISHED = "published"
DEAD_LETTERED = "dead_lettered"
PENDING = "pending"
UNKNOWN = "unknown"

LedgerRow = tuple[
    str, str, str, float, int, float, str | None, float | None, str | None, str | None
]
"""What stores write: id, tenant, state, received_at, attempts, written_at, aws_event_id,
settled_at, reason, dead_letter_id. Plain tuples: the writer builds one per settled event."""


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """An event's latest known state; `written_at` is when the daemon noted it (the settlement
    time, or when a retry was decided), `settled_at` when it was published or dead-lettered."""

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

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> LedgerEntry:
        event_id, tenant, state, received, attempts, written, aws_id, settled, reason, dl = row
        return cls(
            str(event_id),
            str(tenant),
            str(state),
            float(received),
            int(attempts),
            float(written),
            aws_id,
            None if settled is None else float(settled),
            reason,
            dl,
        )

    def row(self) -> LedgerRow:
        return (
            self.id,
            self.tenant,
            self.state,
            self.received_at,
            self.attempts,
            self.written_at,
            self.aws_event_id,
            self.settled_at,
            self.reason,
            self.dead_letter_id,
        )

    @classmethod
    def from_fields(cls, event_id: str, tenant: str, fields: Sequence[Any]) -> LedgerEntry:
        """From the stored form of stores keyed by id and tenant (Redis)."""
        return cls.from_row([event_id, tenant, *fields])


def latest(entries: Iterable[LedgerEntry]) -> LedgerEntry | None:
    """The entry that says most: a settled one beats pending, then the latest written."""
    return max(entries, key=lambda e: (e.state != PENDING, e.written_at), default=None)


def latest_per_tenant(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """One entry per tenant (stores that append keep a pending and a settled row)."""
    by_tenant: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        by_tenant.setdefault(entry.tenant, []).append(entry)
    return [e for group in by_tenant.values() if (e := latest(group)) is not None]


def merged_rows(rows: Sequence[LedgerRow]) -> list[LedgerRow]:
    """One row per (id, tenant): the one that upserting `rows` one after another leaves, where
    a settled row replaces any and a pending row only a pending one. Applying the result once
    with that same rule gives what applying every row in order does, so a store can write a
    batch in one statement that may not touch a key twice."""
    by_key: dict[tuple[str, str], LedgerRow] = {}
    for row in rows:
        key = (row[0], row[1])
        held = by_key.get(key)
        if held is None or row[2] != PENDING or held[2] == PENDING:
            by_key[key] = row
    return list(by_key.values())


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
