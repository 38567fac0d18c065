"""Rows into the spool's messages table, many to an INSERT statement.

executemany binds, steps and resets its statement once per row, and that bookkeeping costs
more than SQLite's own insert of a row. One statement with many VALUES rows pays it once per
chunk. Chunks are powers of two up to MAX_ROWS, so that a handful of constant statements stay
prepared in the connection's statement cache whatever the batch size.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import cache

MAX_ROWS = 64
_INSERT = "INSERT INTO messages (body, enqueued_at, tenant) VALUES "


def insert_rows(
    conn: sqlite3.Connection, bodies: Sequence[bytes], tenants: Sequence[str], now: float
) -> int:
    """Insert the bodies in order, each with its tenant, all received `now`; the last row's id
    (0 for none), as the cursor tells it without another statement."""
    if len(bodies) != len(tenants):
        raise ValueError(f"{len(tenants)} tenants for {len(bodies)} bodies")
    one_tenant = bool(tenants) and tenants.count(tenants[0]) == len(tenants)
    start, left = 0, len(bodies)
    last_id = 0
    while left:
        size = min(1 << (left.bit_length() - 1), MAX_ROWS)
        end = start + size
        # Bound as bytearray: sqlite3 binds one as a BLOB at once, while for bytes it first
        # asks its adapter registry and the object itself for an adaptation, on every row.
        chunk = map(bytearray, bodies[start:end])
        params: list[object]
        if one_tenant:  # the usual put: the tenant is bound once
            params = [*chunk, now, tenants[0]]
            last_id = conn.execute(_one_tenant_sql(size), params).lastrowid or 0
        else:
            params = [value for row in zip(chunk, tenants[start:end], strict=True) for value in row]
            params.append(now)
            last_id = conn.execute(_tenant_per_row_sql(size), params).lastrowid or 0
        start, left = end, left - size
    return last_id


@cache
def _one_tenant_sql(rows: int) -> str:
    """?1..?rows are the bodies, then the time and the tenant."""
    return _INSERT + ",".join(f"(?{i}, ?{rows + 1}, ?{rows + 2})" for i in range(1, rows + 1))


@cache
def _tenant_per_row_sql(rows: int) -> str:
    """Body and tenant of each row in turn, then the time."""
    values = (f"(?{2 * i + 1}, ?{2 * rows + 1}, ?{2 * i + 2})" for i in range(rows))
    return _INSERT + ",".join(values)
