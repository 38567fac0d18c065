"""What the emulator saw: accepted events (delivered or dropped) and call/entry counters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

CALL_OUTCOMES = (
    "ok",
    "throttled",
    "error_500",
    "error_503",
    "dropped",
    "dropped_after",
    "malformed",
    "validation_error",
    "auth_error",
    "client_error",
)


@dataclass(slots=True)
class Stats:
    """Counters shown at `/_emulator/stats`."""

    requests: int = 0
    calls: Counter[str] = field(default_factory=Counter)
    operations: Counter[str] = field(default_factory=Counter)
    entries_accepted: int = 0
    entries_failed: Counter[str] = field(default_factory=Counter)
    entries_dropped_pending: int = 0

    def to_json(self) -> dict[str, Any]:
        """The counters as JSON, every call outcome present even at zero."""
        return {
            "requests": self.requests,
            "calls": {outcome: self.calls[outcome] for outcome in CALL_OUTCOMES},
            "operations": dict(self.operations),
            "entries_accepted": self.entries_accepted,
            "entries_failed": dict(self.entries_failed),
            "entries_dropped_pending": self.entries_dropped_pending,
        }


class RecordList:
    """An append-only list addressed by absolute index that forgets its oldest half when full.

    Long benchmarks would otherwise hold every event in memory; counters are unaffected.
    """

    def __init__(self, max_records: int) -> None:
        self.max_records = max_records
        self.records: list[dict[str, Any]] = []
        self.base = 0  # absolute index of records[0]

    def append(self, record: dict[str, Any]) -> None:
        """Keep one more record, trimming the oldest half when over the cap."""
        self.records.append(record)
        if len(self.records) > self.max_records:
            trimmed = len(self.records) - self.max_records // 2
            del self.records[:trimmed]
            self.base += trimmed

    @property
    def end(self) -> int:
        """The absolute index the next record will get (what `since` should be next time)."""
        return self.base + len(self.records)

    def select(
        self, since: int, source: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], int]:
        """(up to `limit` records from absolute index `since` on, optionally of one source,
        the index to ask for next time)."""
        start = max(since - self.base, 0)
        if source is None:
            page = self.records[start : start + limit]
            return page, self.base + start + len(page)
        page = []
        for offset, record in enumerate(self.records[start:]):
            if len(page) == limit:
                return page, self.base + start + offset
            if record["source"] == source:
                page.append(record)
        return page, self.end

    def clear(self) -> None:
        """Forget every record and restart numbering at zero."""
        self.records.clear()
        self.base = 0


class EventLog:
    """Accepted events in arrival order: `delivered` (ACTIVE source) and `dropped` (PENDING)."""

    def __init__(self, max_records: int = 200_000) -> None:
        self.delivered = RecordList(max_records)
        self.dropped = RecordList(max_records)

    def clear(self) -> None:
        """Forget every event."""
        self.delivered.clear()
        self.dropped.clear()
