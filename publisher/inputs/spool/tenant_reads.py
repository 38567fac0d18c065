"""How the spool's consumer reads tenants from the file: the statements of one fetch."""

from __future__ import annotations

from collections.abc import Sequence

from publisher.core.event import Event, tenant_of
from publisher.core.message import Message, ValidatedMessage
from publisher.inputs.spool.db import Row, SpoolDb, json_ids

Plan = dict[str, tuple[int, int, int]]
"""Per tenant to read from the file: (after id, rows to read, most rows it may have)."""
MAX_READ = 1 << 30


def read_tenants(db: SpoolDb, plan: Plan, spare: int) -> dict[str, tuple[list[Row], int]]:
    """Each tenant's rows as planned, then the room others left unused to the tenants that
    have more, within their caps; per tenant the rows and how many were asked for."""
    read: dict[str, tuple[list[Row], int]] = {}
    for tenant, (after, limit, _) in plan.items():
        rows = db.read_tenant_after(tenant, after, limit)
        read[tenant] = (rows, limit)
        spare += limit - len(rows)
    for tenant, (_, _, cap) in plan.items():
        rows, asked = read[tenant]
        if spare <= 0:
            break
        if len(rows) == asked and cap > asked:
            more = min(spare, cap - asked)
            extra = db.read_tenant_after(tenant, rows[-1][0], more)
            read[tenant] = (rows + extra, asked + more)
            spare -= len(extra)
    return read


def delivery_counts(again: list[int], counts: list[int], rows: list[Row]) -> list[int]:
    """The delivery count of each row read again (this one included)."""
    deliveries = dict(zip(again, counts, strict=True))
    return [deliveries[row[0]] + 1 for row in rows]


def read_again_and_new(
    db: SpoolDb, again: list[int], plan: Plan, spare: int
) -> tuple[list[Row], dict[str, tuple[list[Row], int]]]:
    """The rows due again (by id), then each planned tenant's rows never delivered."""
    old = db.read_ids(json_ids(again)) if again else []
    return old, read_tenants(db, plan, spare)


def backlog_by_tenant(db: SpoolDb) -> dict[str, tuple[int, float | None]]:
    """Per tenant: rows stored (leased ones included) and the oldest one's enqueued_at."""
    return {t: (n, db.oldest_of(t)) for t, n in db.rows_by_tenant().items() if n > 0}


def tenants_of(bodies: Sequence[bytes], events: Sequence[Event] | None) -> list[str]:
    return [e.tenant for e in events] if events is not None else list(map(tenant_of, bodies))


def first_delivery(
    message_id: int, body: bytes, enqueued_at: float, event: Event | None
) -> Message:
    """A first delivery; with the event this process validated when it put the row, if any."""
    if event is None:
        return Message(str(message_id), body, enqueued_at, 1)
    return ValidatedMessage(str(message_id), body, enqueued_at, 1, event=event)


def held_event(message: Message | None) -> Event | None:
    """The event validated when the row was put, if memory held it with one."""
    return message.event if isinstance(message, ValidatedMessage) else None
