"""Rows this process has just put into the spool, kept for its own consumer, per tenant.

HTTP ingest stores each event in the spool file before it answers, and the pipeline in the
same process then fetched it back: an SQLite read of what was just written, and a second
decode of an event ingest had already validated. Rows put here (committed first) wait in
memory, as the first deliveries the consumer hands out (with their validated events), until
the consumer takes them; the file stays the
record, and what any other process puts is still read from it.

The consumer reads each tenant on its own (fair reads), so rows are held per tenant in id
order. Whether memory holds every row of a tenant that the consumer has not read yet is the
consumer's to know (SpoolInput trusts a tenant's memory only after a short read of its rows
from the file, and distrusts it when another process put rows or a put did not fit here).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

from publisher.core.event import Event
from publisher.core.message import Message, ValidatedMessage

# Rows and bytes of bodies held at most; a row's message and event take several hundred bytes
# more. Past either, rows are read back from the file and decoded again, which costs the
# consumer more than the rest of its work on the row: the budget covers a burst of a few
# seconds at the account's default quota, so that a consumer catching up on one does not
# decode what ingest just validated. A backlog beyond it gains little from memory.
DEFAULT_MAX_ROWS = 30_000
DEFAULT_MAX_BYTES = 16 * 1024 * 1024


class FreshRows:
    """Committed rows by tenant, in id order, within a budget of rows and bytes."""

    def __init__(
        self, max_rows: int = DEFAULT_MAX_ROWS, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self._ids: dict[str, list[int]] = {}
        self._rows: dict[int, Message] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._rows)

    @property
    def held_bytes(self) -> int:
        return self._bytes

    def tenants(self) -> Iterable[str]:
        """Tenants with rows held."""
        return [tenant for tenant, ids in self._ids.items() if ids]

    def add(
        self,
        first_id: int,
        bodies: Sequence[bytes],
        tenants: Sequence[str],
        enqueued_at: float,
        events: Sequence[Event] | None,
        cursors: dict[str, int],
    ) -> bool:
        """Hold rows first_id, first_id + 1, ... (one committed put); False when over budget.

        A row at or below its tenant's cursor was already read from the file and is not held.
        """
        if events is not None and len(events) != len(bodies):
            raise ValueError(f"{len(events)} events for {len(bodies)} bodies")
        size = sum(map(len, bodies))
        if len(self._rows) + len(bodies) > self.max_rows or self._bytes + size > self.max_bytes:
            return False
        if not bodies:
            return True
        tenant = tenants[0]
        ids = self._ids.get(tenant)
        if (
            tenants.count(tenant) == len(tenants)
            and first_id > cursors.get(tenant, 0)
            and (not ids or ids[-1] < first_id)
        ):
            # The usual put: one tenant's rows, all after what is held and read.
            row_ids = range(first_id, first_id + len(bodies))
            self._ids.setdefault(tenant, []).extend(row_ids)
            messages = _deliveries(row_ids, bodies, enqueued_at, events)
            self._rows.update(zip(row_ids, messages, strict=True))
            self._bytes += size
            return True
        row_ids = range(first_id, first_id + len(bodies))
        messages = _deliveries(row_ids, bodies, enqueued_at, events)
        for row_id, tenant, message in zip(row_ids, tenants, messages, strict=True):
            if row_id > cursors.get(tenant, 0):
                self._hold(tenant, row_id, message)
        return True

    def take(self, tenant: str, limit: int) -> list[tuple[int, Message]]:
        """The tenant's oldest rows, up to `limit`, as their first deliveries."""
        ids = self._ids.get(tenant)
        if not ids or limit <= 0:
            return []
        taken_ids = ids[:limit]
        del ids[:limit]
        taken = [(row_id, self._rows.pop(row_id)) for row_id in taken_ids]
        self._bytes -= sum(len(row.body) for _, row in taken)
        return taken

    def put_back(self, tenant: str, taken: Sequence[tuple[int, Message]]) -> None:
        """Hold again rows that take() handed out but could not be delivered."""
        for row_id, row in taken:
            self._hold(tenant, row_id, row)

    def discard_read(self, tenant: str, cursor: int) -> dict[int, Message]:
        """Forget the tenant's rows the consumer has read from the file (ids up to `cursor`);
        return them, so that their events still spare a decode."""
        ids = self._ids.get(tenant)
        if not ids or ids[0] > cursor:
            return {}
        end = bisect.bisect_right(ids, cursor)
        discarded = {row_id: self._rows.pop(row_id) for row_id in ids[:end]}
        del ids[:end]
        self._bytes -= sum(len(row.body) for row in discarded.values())
        return discarded

    def _hold(self, tenant: str, row_id: int, row: Message) -> None:
        ids = self._ids.setdefault(tenant, [])
        if not ids or ids[-1] < row_id:
            ids.append(row_id)  # the usual case: puts commit in id order
        else:
            bisect.insort(ids, row_id)
        self._rows[row_id] = row
        self._bytes += len(row.body)


def _deliveries(
    row_ids: range, bodies: Sequence[bytes], enqueued_at: float, events: Sequence[Event] | None
) -> list[Message]:
    """The rows' first deliveries, built once when put (take hands them out as they are); with
    the events validated when put, if any."""
    if events is None:
        return [Message(str(i), body, enqueued_at) for i, body in zip(row_ids, bodies, strict=True)]
    return [
        ValidatedMessage(str(i), body, enqueued_at, event=event)
        for i, body, event in zip(row_ids, bodies, events, strict=True)
    ]
