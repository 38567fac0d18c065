"""Answers "what became of event ID?" from the ledger, for `trace` and the admin port."""

from __future__ import annotations

import time
from typing import Any

from publisher.ledger.entry import LedgerEntry, latest, view
from publisher.ledger.factory import build_ledger_store
from publisher.ledger.store import LedgerStore
from publisher.settings import Settings


class EventLookup:
    """Opens its own connection to the ledger on first use (reads never wait on writes)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: LedgerStore | None = None

    @property
    def enabled(self) -> bool:
        return self._settings.ledger.retention_s > 0

    async def find(
        self, event_id: str, tenant: str | None
    ) -> tuple[dict[str, Any], list[LedgerEntry]]:
        """The view of the event (state `unknown` when not found) and every entry behind it."""
        if not self.enabled:
            return view(event_id, tenant, None), []
        if self._store is None:
            store = build_ledger_store(self._settings)
            assert store is not None  # enabled
            await store.start()
            self._store = store
        entries = await self._store.lookup(event_id, tenant, time.time())
        entries.sort(key=lambda e: e.written_at)
        return view(event_id, tenant, latest(entries)), entries

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None
