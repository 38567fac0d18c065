"""Add an event to the PostgreSQL outbox inside the application's own transaction.

    from publisher import outbox

    with psycopg.connect(dsn) as conn, conn.transaction():       # psycopg 3, sync
        conn.execute("INSERT INTO orders ...")
        outbox.add(conn, {"tenant": "acme", "detail_type": "OrderCreated", "detail": {...}})

    async with conn.transaction():                                 # psycopg 3 async, or asyncpg
        await outbox.add(conn, event)

The event is committed or rolled back with the rest of the transaction; the daemon publishes it
only once committed. This module imports nothing but the standard library (not even the rest of
this package), so an application can depend on it alone or copy it.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol, overload

DEFAULT_TABLE = "partner_publisher_outbox"
_TABLE = re.compile(r"([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,50}")


Event = Mapping[str, Any] | str | bytes


class AsyncConnection(Protocol):
    """psycopg's AsyncConnection or asyncpg's Connection, as far as add() uses them."""

    async def execute(self, query: Any, /, *args: Any, **kwargs: Any) -> Any: ...


class SyncConnection(Protocol):
    """psycopg's Connection, as far as add() uses it."""

    def execute(self, query: Any, /, *args: Any, **kwargs: Any) -> Any: ...


@overload
def add(conn: AsyncConnection, event: Event, *, table: str = DEFAULT_TABLE) -> Awaitable[None]: ...
@overload
def add(conn: SyncConnection, event: Event, *, table: str = DEFAULT_TABLE) -> None: ...
def add(conn: Any, event: Event, *, table: str = DEFAULT_TABLE) -> Awaitable[None] | None:
    """Insert `event` (a mapping, or its JSON text) into the outbox through `conn`.

    conn: a psycopg 3 Connection (runs now, returns None), a psycopg 3 AsyncConnection or an
    asyncpg Connection (returns an awaitable: `await outbox.add(conn, event)`).
    """
    if not _TABLE.fullmatch(table):
        raise ValueError(f"table {table!r} must be a lower-case identifier, schema optional")
    text = _json_text(event)
    if type(conn).__module__.startswith("asyncpg"):
        return _asyncpg_add(conn, table, text)
    statement = f"INSERT INTO {table} (event) VALUES (%s::jsonb)"
    if inspect.iscoroutinefunction(conn.execute):
        return _psycopg_async_add(conn, statement, text)
    conn.execute(statement, (text,))
    return None


async def _asyncpg_add(conn: Any, table: str, text: str) -> None:
    await conn.execute(f"INSERT INTO {table} (event) VALUES ($1::jsonb)", text)


async def _psycopg_async_add(conn: Any, statement: str, text: str) -> None:
    await conn.execute(statement, (text,))


def _json_text(event: Event) -> str:
    if isinstance(event, bytes):
        return event.decode("utf-8")
    if isinstance(event, str):
        return event
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))
