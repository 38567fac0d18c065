"""An in-memory ledger store: the tested fake the pipeline's unit tests run against."""

from __future__ import annotations

from collections.abc import Sequence

from publisher.ledger.entry import PENDING, LedgerEntry, LedgerRow


class MemoryLedger:
    def __init__(self, retention_s: float = 604_800, max_events: int = 1_000_000) -> None:
        self.entries: dict[tuple[str, str], LedgerEntry] = {}
        self.writes = 0
        self._retention_s = retention_s
        self._max_events = max_events

    async def start(self) -> None:
        return None

    async def write(self, rows: Sequence[LedgerRow]) -> None:
        self.writes += 1
        for entry in map(LedgerEntry.from_row, rows):
            key = (entry.tenant, entry.id)
            old = self.entries.get(key)
            if old is None or entry.state != PENDING or old.state == PENDING:
                self.entries[key] = entry

    async def lookup(self, event_id: str, tenant: str | None, now: float) -> list[LedgerEntry]:
        return [
            e
            for (owner, key), e in self.entries.items()
            if key == event_id
            and (tenant is None or owner == tenant)
            and e.written_at >= now - self._retention_s
        ]

    async def expire(self, now: float) -> int:
        old = [k for k, e in self.entries.items() if e.written_at < now - self._retention_s]
        by_age = sorted((e.written_at, k) for k, e in self.entries.items() if k not in old)
        old += [k for _, k in by_age[: max(0, len(by_age) - self._max_events)]]
        for key in old:
            del self.entries[key]
        return len(old)

    async def count(self, now: float) -> int:
        return len(self.entries)

    async def close(self) -> None:
        return None
