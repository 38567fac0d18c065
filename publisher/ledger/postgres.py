"""The PostgreSQL ledger, for inputs that run on PostgreSQL (the outbox): one row per
(tenant, id), written with one multi-row upsert per WRITE_SLICE rows of a batch.

The rows go as one JSON array (orjson writes it in C) that the server takes apart: one
statement and one round trip for thousands of rows, where executemany sent a statement
per row and cost the outbox path a quarter of its CPU (ten array parameters, one per column,
cost about as much to adapt in psycopg). One statement may not update a row twice, so the
batch is first cut to one row per key (entry.merged_rows) with the upsert's own rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import psycopg
from psycopg import sql

from publisher.inputs.pg_schema import create_once
from publisher.ledger.entry import LedgerEntry, LedgerRow, merged_rows

SCHEMA = """
CREATE TABLE IF NOT EXISTS {table} (
    id text NOT NULL,
    tenant text NOT NULL,
    state text NOT NULL,
    received_at double precision NOT NULL,
    attempts integer NOT NULL,
    written_at double precision NOT NULL,
    aws_event_id text,
    settled_at double precision,
    reason text,
    dead_letter_id text,
    PRIMARY KEY (id, tenant)
);
CREATE INDEX IF NOT EXISTS {by_age} ON {table} (written_at);
"""
UPSERT = """
INSERT INTO {table} AS old
SELECT r->>0, r->>1, r->>2, (r->>3)::float8, (r->>4)::integer, (r->>5)::float8, r->>6,
       (r->>7)::float8, r->>8, r->>9
FROM json_array_elements(%s::json) AS r
ON CONFLICT (id, tenant) DO UPDATE SET
    state = excluded.state, received_at = excluded.received_at, attempts = excluded.attempts,
    written_at = excluded.written_at, aws_event_id = excluded.aws_event_id,
    settled_at = excluded.settled_at, reason = excluded.reason,
    dead_letter_id = excluded.dead_letter_id
WHERE excluded.state <> 'pending' OR old.state = 'pending'
"""
WRITE_SLICE = 5000
"""Rows per statement (about 1 MB of JSON): a backlog of outcomes kept through an outage of
the server goes as several statements, not one document of tens of megabytes."""
COLUMNS = "id, tenant, state, received_at, attempts, written_at, aws_event_id, settled_at, "
COLUMNS += "reason, dead_letter_id"


class PostgresLedger:
    def __init__(
        self,
        dsn: str,
        table: str,
        retention_s: float,
        max_events: int,
        password: str | None = None,
    ) -> None:
        self.dsn = dsn
        self._password = password
        self.table = table
        self._names = {
            "table": sql.Identifier(table),
            "by_age": sql.Identifier(f"{table}_by_age"),
        }
        self._retention_s = retention_s
        self._max_events = max_events
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        self._upsert = self._sql(UPSERT)

    @property
    def conn(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        if self._conn is None:
            raise RuntimeError("ledger is not started")
        return self._conn

    def _sql(self, text: str) -> sql.Composed:
        return sql.SQL(text).format(**self._names)

    async def start(self) -> None:
        extra: dict[str, Any] = {} if self._password is None else {"password": self._password}
        self._conn = await psycopg.AsyncConnection.connect(self.dsn, autocommit=True, **extra)
        try:
            await create_once(self.conn, self._sql(SCHEMA), self.table)
        except BaseException:
            await self.close()
            raise

    async def write(self, rows: Sequence[LedgerRow]) -> None:
        merged = merged_rows(rows)
        async with self.conn.transaction():
            for start in range(0, len(merged), WRITE_SLICE):
                document = orjson.dumps(merged[start : start + WRITE_SLICE]).decode()
                await self.conn.execute(self._upsert, (document,))

    async def lookup(self, event_id: str, tenant: str | None, now: float) -> list[LedgerEntry]:
        query = f"SELECT {COLUMNS} FROM {{table}} WHERE id = %s AND written_at >= %s"
        params: tuple[object, ...] = (event_id, now - self._retention_s)
        if tenant is not None:
            query += " AND tenant = %s"
            params += (tenant,)
        cursor = await self.conn.execute(self._sql(query), params)
        rows = await cursor.fetchall()
        return [LedgerEntry.from_row(row) for row in rows]

    async def expire(self, now: float) -> int:
        async with self.conn.transaction():
            cursor = await self.conn.execute(
                self._sql("DELETE FROM {table} WHERE written_at < %s"), (now - self._retention_s,)
            )
            removed = cursor.rowcount
            excess = await self.count(now) - self._max_events
            if excess > 0:
                cursor = await self.conn.execute(
                    self._sql(
                        "DELETE FROM {table} WHERE (id, tenant) IN (SELECT id, tenant FROM"
                        " {table} ORDER BY written_at LIMIT %s)"
                    ),
                    (excess,),
                )
                removed += cursor.rowcount
        return removed

    async def count(self, now: float) -> int:
        cursor = await self.conn.execute(self._sql("SELECT count(*) FROM {table}"))
        row = await cursor.fetchone()
        return int(row[0]) if row is not None else 0  # type: ignore[call-overload]

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
