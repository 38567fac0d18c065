"""How the spool's consumer reads tenants from the file: the statements of one fetch."""

from __future__ import annotations

import orjson

from publisher.inputs.spool.db import Row, SpoolDb

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


def tenants_with_rows(db: SpoolDb) -> tuple[dict[str, int], bool]:
    counts, _, others_put = db.tenants_with_rows()
    return counts, others_put


def delivery_counts(again: list[int], counts: list[int], rows: list[Row]) -> list[int]:
    """The delivery count of each row read again (this one included)."""
    deliveries = dict(zip(again, counts, strict=True))
    return [deliveries[row[0]] + 1 for row in rows]


def tenant_of(body: bytes) -> str:
    """The `tenant` of an event body, or '' if it has none (it is refused when fetched)."""
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ""
    tenant = event.get("tenant") if isinstance(event, dict) else None
    return tenant if isinstance(tenant, str) else ""
