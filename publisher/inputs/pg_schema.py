"""Creating the daemon's PostgreSQL tables when several replicas start at once."""

from __future__ import annotations

import psycopg
from psycopg import sql


async def create_once(
    conn: psycopg.AsyncConnection[tuple[object, ...]], statements: sql.Composed, name: str
) -> None:
    """Run CREATE ... IF NOT EXISTS `statements` under a lock named after `name`.

    Two sessions creating one table at the same moment can both pass IF NOT EXISTS; one then
    fails on a unique index of the catalog. A transaction-scoped advisory lock lets the second
    replica find the table made.
    """
    async with conn.transaction():
        lock = "SELECT pg_advisory_xact_lock(hashtext(%s))"
        await conn.execute(lock, (f"partner-publisher:{name}",))
        await conn.execute(statements)
