"""The ledger store protocol: one adapter per engine the inputs run on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from publisher.ledger.entry import LedgerEntry, LedgerRow


class LedgerStore(Protocol):
    """Keeps the latest entry per (tenant, id) for the retention, at most max_events of them."""

    async def start(self) -> None: ...

    async def write(self, rows: Sequence[LedgerRow]) -> None:
        """Store a batch; a pending entry never hides a settled one from `lookup`."""

    async def lookup(self, event_id: str, tenant: str | None, now: float) -> list[LedgerEntry]:
        """The latest unexpired entry with this id per tenant (settled before pending), or
        only `tenant`'s."""

    async def expire(self, now: float) -> int:
        """Drop what is past the retention or over max_events; return how many went."""

    async def count(self, now: float) -> int:
        """How many entries are kept (for bounds and measurements; may scan)."""

    async def close(self) -> None: ...
